"""MATRL's meta-game: exact entries, the original's quirky entries, equilibria and selection rules."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from matrl.gametheory import equilibria_2x2_batch, expected_payoffs
from matrl.matrixgames.batch import GameBatch, clip_like_python, nashpy_equilibria
from matrl.matrixgames.games import named_game, random_games
from matrl.matrixgames.metagame import (
    SELECTIONS,
    exact_meta_game,
    kl_bernoulli,
    kl_original,
    original_meta_game,
    select_equilibrium,
    solve_meta_game,
    uniform_hash,
)

RNG = np.random.default_rng(0)


def _policies(n: int) -> tuple[np.ndarray, ...]:
    return tuple(RNG.uniform(0, 1, n) for _ in range(4))


@pytest.fixture(scope="module")
def games() -> GameBatch:
    payoffs = np.concatenate([random_games(c, np.arange(40)) for c in ("coordination", "cyclic")])
    return GameBatch.from_payoffs(payoffs, nashpy_like=False)


def test_exact_entries_are_value_differences(games: GameBatch) -> None:
    x, y, xh, yh = _policies(len(games))
    meta = exact_meta_game(games, x, y, xh, yh)
    base = expected_payoffs(games.payoffs, np.stack([x, y], -1))
    for r, xr in enumerate((x, xh)):
        for c, yc in enumerate((y, yh)):
            direct = expected_payoffs(games.payoffs, np.stack([xr, yc], -1)) - base
            np.testing.assert_allclose(meta[:, :, r, c], direct, atol=1e-12)
    assert (meta[:, :, 0, 0] == 0).all()


def test_exact_entries_are_expected_advantages(games: GameBatch) -> None:
    """Eq. 3 in a stateless game: sum_a pi_hat(a0) pi_hat(a1) (P[a0, a1] - V(pi))."""
    x, y, xh, yh = _policies(len(games))
    meta = exact_meta_game(games, x, y, xh, yh)
    base = expected_payoffs(games.payoffs, np.stack([x, y], -1))
    joint = np.einsum("ga,gb->gab", np.stack([xh, 1 - xh], -1), np.stack([yh, 1 - yh], -1))
    advantage = games.payoffs - base[:, :, None, None]
    np.testing.assert_allclose(meta[:, :, 1, 1], np.einsum("gab,giab->gi", joint, advantage), atol=1e-12)


def test_meta_game_is_zero_when_predicted_equals_current(games: GameBatch) -> None:
    x, y, _, _ = _policies(len(games))
    assert (exact_meta_game(games, x, y, x, y) == 0).all()
    assert (original_meta_game(games, x, y, x, y) == 0).all()
    rho = solve_meta_game(exact_meta_game(games, x, y, x, y), "random", uniform_hash(games.keys, 0))
    assert np.isin(rho, [0.0, 1.0]).all()  # every pure profile is an equilibrium of the all-zero game


def test_original_entries_on_matching_pennies() -> None:
    pennies = GameBatch.from_payoffs(named_game("matching_pennies")[None], nashpy_like=True)
    x, y = np.array([0.9]), np.array([0.2])
    meta = original_meta_game(pennies, x, y, np.array([0.8816293]), np.array([0.1749882]))
    np.testing.assert_allclose(meta[0, 0], [[0, -0.0296140], [0.0220448, -0.0059702]], atol=2e-7)
    np.testing.assert_allclose(meta[0, 1], -meta[0, 0], atol=1e-15)


def test_original_cross_terms_differ_from_the_exact_ones(games: GameBatch) -> None:
    x, y, xh, yh = _policies(len(games))
    quirky = original_meta_game(games, x, y, xh, yh)
    exact = exact_meta_game(games, x, y, xh, yh)
    assert not np.allclose(quirky, exact)


def test_kl_conventions() -> None:
    p = np.array([0.3, 0.0, 1.0, 0.3, 0.3, 0.3])
    q = np.array([0.6, 0.5, 0.5, 0.0, 1.2, -0.1])
    original = kl_original(p, q)
    assert original[0] == pytest.approx(0.3 * np.log(0.5) + 0.7 * np.log(0.7 / 0.4))
    assert original[1] == original[2] == original[3] == 0.0
    assert np.isnan(original[4]) and np.isnan(original[5])
    proper = kl_bernoulli(p[:3], q[:3])
    assert proper[0] == pytest.approx(original[0])
    assert proper[1] == pytest.approx(np.log(2)) and proper[2] == pytest.approx(np.log(2))
    np.testing.assert_array_equal(clip_like_python(np.array([np.nan, -0.5, 0.4, 1.5])), [1.0, 0.0, 0.4, 1.0])


def test_uniform_hash_is_deterministic_and_uniform() -> None:
    keys = np.arange(20000, dtype=np.uint64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        u = uniform_hash(keys, 3)
    assert ((u >= 0) & (u < 1)).all()
    np.testing.assert_array_equal(u, uniform_hash(keys, 3))
    np.testing.assert_array_equal(u[5:9], uniform_hash(keys[5:9], 3))  # independent of the batch
    assert not np.array_equal(u, uniform_hash(keys, 4))
    assert abs(u.mean() - 0.5) < 0.01 and np.histogram(u, 10, (0, 1))[0].min() > 1800


def test_selection_rules_pick_verified_equilibria() -> None:
    # coordination meta-game: both pure diagonal profiles and a mixed one are equilibria
    meta = np.broadcast_to(
        np.array([[[2.0, 0.0], [0.0, 1.0]], [[2.0, 0.0], [0.0, 1.0]]]), (3000, 2, 2, 2)
    ).copy()
    profiles, valid = equilibria_2x2_batch(meta)
    keys = np.arange(3000, dtype=np.uint64)
    random = select_equilibrium(meta, profiles, valid, "random", uniform_hash(keys, 0))
    picked = {tuple(np.round(r, 6)) for r in random}
    assert picked == {(1.0, 1.0), (0.0, 0.0), (round(1 / 3, 6), round(1 / 3, 6))}
    counts = [np.sum(np.all(np.isclose(random, p), axis=1)) for p in ((1, 1), (0, 0), (1 / 3, 1 / 3))]
    assert min(counts) > 900  # roughly uniform over the three
    assert select_equilibrium(meta, profiles, valid, "first")[0].tolist() == [1.0, 1.0]
    np.testing.assert_allclose(select_equilibrium(meta, profiles, valid, "last")[0], [1 / 3, 1 / 3])
    assert select_equilibrium(meta, profiles, valid, "welfare")[0].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError):
        select_equilibrium(meta, profiles, valid, "random")
    assert set(SELECTIONS) == {"random", "first", "last", "welfare"}


def test_last_equilibrium_is_nashpys_last() -> None:
    """On generic and tie-ridden games the original's choice equals nashpy's last listed equilibrium."""
    nash = pytest.importorskip("nashpy")
    rng = np.random.default_rng(1)
    generic = rng.normal(size=(150, 2, 2, 2))
    ties = rng.integers(-1, 2, size=(150, 2, 2, 2)).astype(float)
    ties[:, :, 0, 0] = 0.0  # like MATRL's meta-game: the all-keep entry is 0
    games = np.concatenate([generic, ties])
    profiles, valid = nashpy_equilibria(games)
    rho = select_equilibrium(games, profiles, valid, "last")
    compared = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for g, game in enumerate(games):
            listed = [(s0[0], s1[0]) for s0, s1 in nash.Game(game[0], game[1]).support_enumeration()]
            ours = profiles[g][valid[g]]
            assert len(ours) == len(listed)
            if listed:
                np.testing.assert_allclose(sorted(map(tuple, ours)), sorted(listed), atol=1e-12)
                np.testing.assert_allclose(rho[g], listed[-1], atol=1e-12)
                compared += 1
    assert compared > 250
