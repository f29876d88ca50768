"""The 2x2 closed form: scalar path == batched path, and the same equilibria as nashpy on generic games."""

from __future__ import annotations

import warnings

import nashpy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from matrl.gametheory import (
    equilibria_2x2,
    equilibria_2x2_batch,
    equilibria_2x2_scalar,
    is_equilibrium,
    regrets,
)

payoff_values = st.one_of(
    st.sampled_from([-1.0, 0.0, 1.0]),
    st.floats(-10, 10, allow_nan=False, allow_infinity=False, allow_subnormal=False),
)


@settings(max_examples=300)
@given(hnp.arrays(np.float64, (2, 2, 2), elements=payoff_values))
def test_scalar_path_matches_batch(game: np.ndarray) -> None:
    profiles, valid = equilibria_2x2_batch(game)
    expected: list[np.ndarray] = []
    for profile in profiles[valid]:
        if not any(np.allclose(profile, seen, rtol=0.0, atol=1e-12) for seen in expected):
            expected.append(profile)
    found = equilibria_2x2(game)
    assert len(found) == len(expected) >= 1
    for a, b in zip(found, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)
        assert is_equilibrium(game, a)
    for p, q, r0, r1 in equilibria_2x2_scalar(game.reshape(-1).tolist()):
        np.testing.assert_allclose([r0, r1], regrets(game, np.array([p, q])), rtol=1e-12, atol=1e-15)


def _nashpy_equilibria(game: np.ndarray) -> np.ndarray:
    """Support enumeration by nashpy, converted to P(action 0) per player."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eqs = list(nashpy.Game(game[0], game[1]).support_enumeration())
    return np.array([[sigma_r[0], sigma_c[0]] for sigma_r, sigma_c in eqs]).reshape(-1, 2)


@pytest.mark.parametrize("seed", range(200))
def test_generic_games_agree_with_nashpy(seed: int) -> None:
    game = np.random.default_rng(seed).uniform(-1, 1, size=(2, 2, 2))
    ours = np.array(equilibria_2x2(game))
    theirs = _nashpy_equilibria(game)
    assert ours.shape == theirs.shape
    for row in theirs:
        assert np.any(np.all(np.abs(ours - row) <= 1e-9, axis=1))
    assert len(ours) % 2 == 1  # generic games have an odd number of equilibria


def test_single_game_shape_is_checked() -> None:
    with pytest.raises(ValueError, match=r"\(2, 2, 2\)"):
        equilibria_2x2(np.zeros((3, 2, 2, 2)))
