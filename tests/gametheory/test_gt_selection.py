"""Each selection rule picks what it says, in `select_equilibrium` and through `solve`."""

from __future__ import annotations

import numpy as np
import pytest
from gt_helpers import coordination_game, random_game

from matrl.gametheory import (
    DEFAULT_SELECTION,
    equilibria,
    expected_payoffs,
    select_equilibrium,
    solve,
)


def _battle_of_the_sexes() -> np.ndarray:
    """Equilibria: (keep, keep) worth 1+2, (switch, switch) worth 2+1... made asymmetric in welfare below."""
    game = np.zeros((2, 2, 2))
    game[:, 0, 0] = [1.0, 0.5]  # both keep: welfare 1.5
    game[:, 1, 1] = [3.0, 2.0]  # both switch: welfare 5
    return game


def test_default_is_closest_to_current() -> None:
    assert DEFAULT_SELECTION == "closest_to_current"


def test_rules_on_a_coordination_game() -> None:
    game = _battle_of_the_sexes()
    profiles = equilibria(game)
    assert len(profiles) == 3  # (1, 1), (0, 0) and one mixed
    pick = {
        rule: profiles[select_equilibrium(profiles, game, rule)] for rule in ("first", "closest_to_current")
    }
    np.testing.assert_array_equal(pick["first"], [1.0, 1.0])
    np.testing.assert_array_equal(pick["closest_to_current"], [1.0, 1.0])
    np.testing.assert_array_equal(profiles[select_equilibrium(profiles, game, "max_welfare")], [0.0, 0.0])


def test_closest_to_current_minimises_total_switching() -> None:
    for seed in range(30):
        game = random_game(seed, 3)
        profiles = equilibria(game)
        chosen = profiles[select_equilibrium(profiles, game, "closest_to_current")]
        assert (1.0 - chosen).sum() <= (1.0 - profiles).sum(axis=1).min() + 1e-12


def test_max_welfare_maximises_the_sum_of_payoffs() -> None:
    for seed in range(30):
        game = random_game(seed, 3)
        profiles = equilibria(game)
        welfare = expected_payoffs(game, profiles).sum(axis=1)
        assert welfare[select_equilibrium(profiles, game, "max_welfare")] >= welfare.max() - 1e-12


def test_closest_ties_go_to_welfare() -> None:
    game = np.zeros((2, 2, 2))  # anti-coordination: (keep, switch) and (switch, keep), same distance 1
    game[:, 0, 1] = [1.0, 1.0]
    game[:, 1, 0] = [2.0, 2.0]
    profiles = equilibria(game)
    np.testing.assert_array_equal(
        profiles[select_equilibrium(profiles, game, "closest_to_current")], [0.0, 1.0]
    )


def test_random_is_seeded_and_covers_all() -> None:
    game = coordination_game(3, 1.0, 2.0)
    profiles = equilibria(game)
    picks = [select_equilibrium(profiles, game, "random", np.random.default_rng(seed)) for seed in range(60)]
    assert set(picks) == set(range(len(profiles)))
    again = [select_equilibrium(profiles, game, "random", np.random.default_rng(seed)) for seed in range(60)]
    assert picks == again


def test_random_through_solve_is_reproducible() -> None:
    game = coordination_game(3, 1.0, 2.0)
    a = [solve(game, selection="random", rng=np.random.default_rng(s)).profile for s in range(10)]
    b = [solve(game, selection="random", rng=np.random.default_rng(s)).profile for s in range(10)]
    np.testing.assert_array_equal(a, b)
    assert len({tuple(p) for p in a}) > 1
    assert solve(game, selection="random").num_equilibria == 3


def test_first_needs_no_full_enumeration() -> None:
    game = coordination_game(4, 1.0, 2.0)
    result = solve(game, selection="first")
    np.testing.assert_array_equal(result.profile, np.ones(4))
    assert result.num_equilibria == 1


def test_bad_rule_and_missing_generator() -> None:
    profiles = np.array([[1.0, 1.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="unknown selection rule 'best'"):
        select_equilibrium(profiles, _battle_of_the_sexes(), "best")
    with pytest.raises(ValueError, match="needs a numpy Generator"):
        select_equilibrium(profiles, _battle_of_the_sexes(), "random")
    with pytest.raises(ValueError, match="no equilibria"):
        select_equilibrium(np.empty((0, 2)), _battle_of_the_sexes())
