"""The 2x2 games: named classics, and random generators that reproduce the official code bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from matrl.gametheory import equilibria_2x2, equilibria_2x2_batch
from matrl.matrixgames.games import (
    CATEGORIES,
    NAMED_GAMES,
    TABLE1_CATEGORIES,
    draw_uniforms,
    has_category_structure,
    named_game,
    original_assertions,
    random_game,
    random_games,
    study_seeds,
)

MANY = np.arange(5000)


def test_coordination_seed0_is_the_golden_game() -> None:
    game = random_game("coordination", 0)
    np.testing.assert_allclose(game[0], [[2.411649, 0.548814], [1.866766, 1.264003]], atol=5e-7)
    np.testing.assert_allclose(game[1], [[1.069549, 0.423655], [0.437587, 1.32936]], atol=5e-7)
    p0, p1 = game
    assert p0[0, 0] - p0[0, 1] - p0[1, 0] + p0[1, 1] == pytest.approx(1.260073, abs=5e-7)
    assert p1[0, 0] - p1[0, 1] - p1[1, 0] + p1[1, 1] == pytest.approx(1.537667, abs=5e-7)
    found = equilibria_2x2(game)
    np.testing.assert_allclose(found, [[1, 1], [0, 0], [0.579952, 0.567578]], atol=5e-7)


def test_batch_draws_equal_the_legacy_global_sequence() -> None:
    """The original seeds the global RNG per game and draws scalars one by one; we draw 9 at once."""
    state = np.random.get_state()  # noqa: NPY002 - the legacy global RNG is what the original uses
    try:
        for seed in (0, 1, 17, 999):
            np.random.seed(seed)  # noqa: NPY002
            sequential = [np.random.random_sample() for _ in range(9)]  # noqa: NPY002
            assert draw_uniforms([seed])[0].tolist() == sequential
    finally:
        np.random.set_state(state)  # noqa: NPY002


def test_games_depend_on_their_own_seed_only() -> None:
    for category in CATEGORIES:
        batch = random_games(category, [5, 3, 11])
        np.testing.assert_array_equal(batch[1], random_game(category, 3))


def test_study_seeds() -> None:
    assert study_seeds(4, 10).tolist() == [10, 11, 12, 13]
    with pytest.raises(ValueError):
        study_seeds(-1)


@pytest.mark.parametrize("category", CATEGORIES)
def test_original_assertions_hold_for_the_study_seeds(category: str) -> None:
    assert original_assertions(category, random_games(category, np.arange(1000))).all()  # type: ignore[arg-type]


@pytest.mark.parametrize("category", TABLE1_CATEGORIES)
def test_best_response_structure_for_many_seeds(category: str) -> None:
    assert has_category_structure(category, random_games(category, MANY)).all()


def test_anti_coordination_seed_2783_breaks_only_the_cosmetic_assert() -> None:
    """The original would crash on it (|d| < |c| fails); its best responses are still anti-coordination."""
    game = random_games("anti-coordination", [2783])
    assert not original_assertions("anti-coordination", game)[0]
    assert has_category_structure("anti-coordination", game)[0]
    assert len(equilibria_2x2(game[0])) == 3


@pytest.mark.parametrize("category", ["coordination", "anti-coordination"])
def test_two_pure_and_one_mixed_equilibrium(category: str) -> None:
    _, valid = equilibria_2x2_batch(random_games(category, MANY))  # type: ignore[arg-type]
    assert (valid[:, :4].sum(axis=1) == 2).all()
    assert valid[:, 4].all() and not valid[:, 5:].any()
    diagonal = [0, 3] if category == "coordination" else [1, 2]  # (1,1),(0,0) vs (1,0),(0,1)
    assert valid[:, diagonal].all()


def test_cyclic_games_have_one_fully_mixed_equilibrium() -> None:
    profiles, valid = equilibria_2x2_batch(random_games("cyclic", MANY))
    assert (valid.sum(axis=1) == 1).all() and valid[:, 4].all()
    mixed = profiles[:, 4]
    assert ((mixed > 0) & (mixed < 1)).all()


def test_named_games() -> None:
    assert set(NAMED_GAMES) == {
        "matching_pennies",
        "prisoners_dilemma",
        "chicken",
        "stag_hunt",
        "rotation",
        "deadlock",
        "harmony",
        "coordination_1",
        "coordination_2",
    }
    np.testing.assert_allclose(equilibria_2x2(named_game("matching_pennies")), [[0.5, 0.5]])
    np.testing.assert_allclose(equilibria_2x2(named_game("rotation")), [[0.5, 0.5]])
    np.testing.assert_allclose(equilibria_2x2(named_game("prisoners_dilemma")), [[0.0, 0.0]])
    assert len(equilibria_2x2(named_game("chicken"))) == 3
    game = named_game("chicken")
    game[0, 0, 0] = 99.0  # a copy: the table itself is not modified
    assert NAMED_GAMES["chicken"][0, 0, 0] == 3.0
    with pytest.raises(ValueError, match="unknown game"):
        named_game("poker")


def test_equilibria_and_their_order_match_nashpy() -> None:
    """WoLF's target is the first NE nashpy lists; the convergence targets are all of them."""
    nash = pytest.importorskip("nashpy")
    from matrl.matrixgames.batch import GameBatch

    for category in CATEGORIES:
        games = random_games(category, np.arange(30))
        batch = GameBatch.from_payoffs(games, nashpy_like=True)
        for g, game in enumerate(games):
            listed = [(s0[0], s1[0]) for s0, s1 in nash.Game(game[0], game[1]).support_enumeration()]
            np.testing.assert_allclose(batch.wolf_target[g], listed[0], atol=1e-12)
            ours = batch.targets[g][np.isfinite(batch.targets[g][:, 0])]
            np.testing.assert_allclose(sorted(map(tuple, ours)), sorted(listed), atol=1e-12)
