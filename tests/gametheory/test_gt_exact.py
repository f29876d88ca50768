"""Support enumeration: verified equilibria on every game, known ones on constructed games, completeness."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from gt_helpers import (
    brute_force_equilibria,
    coordination_game,
    cyclic_mixed_game,
    dominant_game,
    float_games,
    integer_games,
    jordan_game,
    random_game,
    same_set,
)
from hypothesis import given, settings

import matrl.gametheory.support_enumeration as se
from matrl.gametheory import (
    enumerate_equilibria,
    equilibria,
    first_equilibrium,
    is_equilibrium,
    payoff_scale,
    regrets,
)


def _all_verified(game: np.ndarray, profiles: np.ndarray) -> None:
    assert profiles.shape[0] >= 1
    assert np.all((profiles >= 0.0) & (profiles <= 1.0))
    worst = regrets(game, profiles).max(axis=-1)
    assert np.all(worst <= 1e-9 * payoff_scale(game)), worst


@settings(max_examples=120)
@given(float_games())
def test_continuous_games_give_verified_equilibria(game: np.ndarray) -> None:
    found = enumerate_equilibria(game)
    _all_verified(game, found.profiles)
    np.testing.assert_allclose(found.regrets, regrets(game, found.profiles), atol=1e-12 * payoff_scale(game))
    first = first_equilibrium(game)
    _all_verified(game, first[None, :])
    assert np.any(np.all(np.abs(found.profiles - first) <= 1e-8, axis=1))


@settings(max_examples=150)
@given(integer_games())
def test_tie_games_give_verified_equilibria(game: np.ndarray) -> None:
    _all_verified(game, equilibria(game))
    _all_verified(game, first_equilibrium(game)[None, :])


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_generic_games_have_an_odd_number_of_equilibria(n: int) -> None:
    for seed in range(40 if n < 5 else 15):
        game = random_game(seed, n)
        found = equilibria(game)
        _all_verified(game, found)
        assert len(found) % 2 == 1, (n, seed, found)  # Wilson's oddness theorem: a missed root would show


@pytest.mark.parametrize(("n", "seeds"), [(3, range(6)), (4, range(3))])
def test_everything_a_brute_force_search_finds_is_found(n: int, seeds: range) -> None:
    for seed in seeds:
        game = random_game(100 + seed, n)
        ours = equilibria(game)
        for profile in brute_force_equilibria(game, starts=32 if n == 3 else 12):
            assert np.any(np.all(np.abs(ours - profile) <= 1e-6, axis=1)), (seed, profile, ours)


def test_six_players() -> None:
    game = random_game(7, 6)
    found = equilibria(game)
    _all_verified(game, found)
    assert len(found) % 2 == 1


@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_cyclic_matching_pennies_has_its_unique_mixed_equilibrium(n: int) -> None:
    # the equilibrium lies on the subdivision's bisection planes (0.5): the inflated Krawczyk test finds it
    found = equilibria(jordan_game(n))
    np.testing.assert_allclose(found, np.full((1, n), 0.5), atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_designed_fully_mixed_equilibrium(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3 + seed % 3
    q = rng.uniform(0.05, 0.95, size=n)
    signs = np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)
    if np.sum(signs < 0) % 2 == 0:
        signs[0] = -signs[0]
    game = cyclic_mixed_game(q, signs * rng.uniform(0.5, 2.0, size=n))
    np.testing.assert_allclose(equilibria(game), q[None, :], atol=1e-10)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_dominant_strategies(n: int) -> None:
    game, expected = dominant_game(np.random.default_rng(n), n)
    np.testing.assert_array_equal(equilibria(game), expected[None, :])


@pytest.mark.parametrize("n", [2, 3, 4])
def test_coordination_game(n: int) -> None:
    game = coordination_game(n, 1.0, 2.0)
    found = equilibria(game)
    pure = found[np.all((found == 0.0) | (found == 1.0), axis=1)]
    # all-0 and all-1; from 4 players on also every profile no single deviation can make unanimous
    expected = [p for p in itertools.product((1.0, 0.0), repeat=n) if is_equilibrium(game, np.array(p))]
    assert same_set(pure, np.array(expected))
    if n < 4:
        assert same_set(pure, np.array([np.ones(n), np.zeros(n)]))
    mixed = found[~np.all((found == 0.0) | (found == 1.0), axis=1)]
    # the symmetric mixed equilibrium: x**(n-1) * 1 = (1-x)**(n-1) * 2
    x = 1.0 / (1.0 + 2.0 ** (-1.0 / (n - 1)))
    assert np.any(np.all(np.abs(mixed - x) <= 1e-9, axis=1))
    np.testing.assert_array_equal(first_equilibrium(coordination_game(n, 1.0, 2.0)), np.ones(n))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_all_zero_game(n: int) -> None:
    game = np.zeros((n,) + (2,) * n)
    np.testing.assert_array_equal(first_equilibrium(game), np.ones(n))  # "all keep" comes first
    found = equilibria(game)
    assert found.shape == (2**n, n)
    _all_verified(game, found)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_player_indifferent_everywhere(n: int) -> None:
    for seed in range(10):
        game = random_game(seed, n)
        game[0] = 0.0
        _all_verified(game, equilibria(game))
        game[0] = 3.5  # constant payoff: also indifferent
        _all_verified(game, equilibria(game))


def test_continuum_is_represented() -> None:
    # player 0 indifferent, player 1 prefers action 0 iff player 0 mostly plays 0: every (x, 1) with x >= 1/3
    # and every (x, 0) with x <= 1/3 is an equilibrium, a continuum through (1/3, anything)
    game = np.zeros((2, 2, 2))
    game[1, 0, 0], game[1, 1, 0] = 2.0, -1.0  # d_1 = 2x - (1 - x) = 3x - 1
    _all_verified(game, equilibria(game))
    game3 = np.zeros((3, 2, 2, 2))
    game3[2, 0, 0, 0], game3[2, 1, 1, 0] = 1.0, -1.0
    _all_verified(game3, equilibria(game3))


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_tiny_payoffs_are_solved_like_unit_payoffs(n: int) -> None:
    for seed in range(5):
        game = random_game(seed, n)
        a, b = equilibria(game), equilibria(game * 1e-8)
        assert same_set(a, b, atol=1e-9)
        assert np.all(is_equilibrium(game * 1e-8, b))


def test_perturbation_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    original = se._search
    calls: list[int] = []

    def failing_first_time(game: np.ndarray, n: int, first: bool, rtol: float) -> np.ndarray:
        calls.append(1)
        return np.empty((0, n)) if len(calls) == 1 else original(game, n, first, rtol)

    monkeypatch.setattr(se, "_search", failing_first_time)
    game = random_game(3, 3)
    found = enumerate_equilibria(game)
    assert found.perturbed
    _all_verified(game, found.profiles)


def test_too_many_players_for_the_exact_solver() -> None:
    with pytest.raises(ValueError, match="n = 9 players is too many"):
        enumerate_equilibria(np.zeros((9,) + (2,) * 9), first=True)
    with pytest.raises(ValueError, match="all equilibria for up to 6"):
        enumerate_equilibria(random_game(0, 7))
    game = random_game(0, 8)
    _all_verified(game, first_equilibrium(game)[None, :])
