"""The random-policy yardstick: same seed, same returns; per-agent action counts and boxes respected."""

from __future__ import annotations

import numpy as np
import pytest

from matrl.eval.random_policy import random_policy_returns


def test_same_seed_same_returns_and_a_bad_count_is_one_line() -> None:
    first = random_policy_returns("switch2_v0", 6, seed=1, num_envs=4)
    assert first.shape == (6, 2)
    np.testing.assert_array_equal(first, random_policy_returns("switch2_v0", 6, seed=1, num_envs=4))
    assert not np.array_equal(first, random_policy_returns("switch2_v0", 6, seed=2, num_envs=4))
    with pytest.raises(ValueError, match=r"^episodes=0 is not allowed; expected an integer >= 1$"):
        random_policy_returns("switch2_v0", 0)


def test_uniform_play_of_a_matrix_game_earns_the_mean_payoff() -> None:
    """Both players uniform over 2 actions: each earns the mean of its payoff matrix (4 3 / 1 2 -> 2.5)."""
    returns = random_policy_returns("matrix_v0", 4000, env_kwargs={"game": "stag_hunt"}, seed=0)
    np.testing.assert_allclose(returns.mean(0), [2.5, 2.5], atol=0.06)
