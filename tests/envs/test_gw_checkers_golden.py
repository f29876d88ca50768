"""Checkers golden vectors of the spec (reference section 8): ma-gym's tests and C1-C5, on both backends."""

from __future__ import annotations

import pytest
from gw_helpers import BACKENDS, Runner, f32
from numpy.testing import assert_array_equal

from matrl.envs import checkers

RESET_0 = [0.0, 0.86, 0, 0, 0, 1, 3, 0, 2, 0, 0]
RESET_1 = [0.67, 0.86, 2, 0, 0, 1, 3, 0, 0, 0, 0]
ALL_FOOD = {"lemon": 9, "apple": 9}

pytestmark = pytest.mark.parametrize("backend", BACKENDS)


def test_reset(backend: str) -> None:
    env = Runner("checkers_v0", backend)
    assert_array_equal(env.reset(), f32([RESET_0, RESET_1]))


def test_reset_full_observable(backend: str) -> None:
    env = Runner("checkers_v0", backend, full_observable=True)
    obs = env.reset()
    assert obs.shape == (2, 22)
    assert_array_equal(obs, f32([RESET_0 + RESET_1, RESET_0 + RESET_1]))


def test_both_left_eats_lemons(backend: str) -> None:
    env = Runner("checkers_v0", backend)
    env.reset()
    s = env.step([1, 1])
    assert s.rewards == pytest.approx([-5.01, -1.01])
    assert s.done == [False, False]
    assert env.food(s) == {"lemon": 7, "apple": 9}
    assert_array_equal(
        s.obs, f32([[0.0, 0.71, 0, 0, 0, 2, 3, 0, 1, 2, 0], [0.67, 0.71, 1, 2, 0, 2, 3, 0, 0, 0, 0]])
    )


def test_c1_eating_apples(backend: str) -> None:
    env = Runner("checkers_v0", backend)
    env.reset()
    env.step([1, 1])
    s = env.step([1, 1])
    assert s.rewards == pytest.approx([4.99, 0.99])
    assert env.food(s) == {"lemon": 7, "apple": 7}
    assert_array_equal(
        s.obs, f32([[0.0, 0.57, 0, 0, 0, 1, 3, 0, 2, 1, 2], [0.67, 0.57, 2, 1, 2, 1, 3, 0, 0, 0, 0]])
    )


def test_c2_contested_cell(backend: str) -> None:
    env = Runner("checkers_v0", backend)
    env.reset()
    s = env.step([0, 2])
    assert s.rewards == pytest.approx([-0.01, -0.01])
    assert_array_equal(
        s.obs, f32([[0.33, 0.86, 1, 0, 0, 2, 3, 0, 1, 3, 0], [0.67, 0.86, 2, 3, 0, 1, 3, 0, 0, 0, 0]])
    )


def test_c3_following_into_vacated_cell(backend: str) -> None:
    env = Runner("checkers_v0", backend)
    env.reset()
    env.step([0, 4])
    s = env.step([3, 2])  # agent 0 to (1,7); agent 1 enters (1,6), vacated in the same step
    assert s.rewards == pytest.approx([-0.01, -0.01])
    assert s.obs[0, :2].tolist() == f32([0.33, 1.0]).tolist()
    assert s.obs[1, :2].tolist() == f32([0.33, 0.86]).tolist()
    assert s.obs[0, 2 + 3] == 3  # agent 1 is the left neighbour of agent 0


def test_c3_variant_lower_index_cannot_follow(backend: str) -> None:
    env = Runner("checkers_v0", backend)
    reset = env.reset()
    env.step([0, 4])
    env.step([2, 2])  # agent 0 back to (0,6), agent 1 follows into (1,6)
    s = env.step([0, 0])  # agent 0 blocked (agent 1 not moved yet), agent 1 to (2,6)
    assert s.rewards == pytest.approx([-0.01, -0.01])
    assert_array_equal(s.obs, reset)


def test_c4_agent1_eats_apple(backend: str) -> None:
    env = Runner("checkers_v0", backend)
    env.reset()
    env.step([4, 2])
    s = env.step([4, 1])
    assert s.rewards == pytest.approx([-0.01, 0.99])
    assert env.food(s) == {"lemon": 9, "apple": 8}
    assert_array_equal(
        s.obs, f32([[0.0, 0.86, 0, 0, 0, 1, 3, 0, 3, 0, 0], [0.33, 0.71, 2, 1, 3, 1, 3, 0, 2, 1, 0]])
    )


def test_c5_time_limit(backend: str) -> None:
    env = Runner("checkers_v0", backend)
    env.reset()
    returns = [0.0, 0.0]
    for t in range(1, 101):
        s = env.step([4, 4])
        returns = [g + r for g, r in zip(returns, s.rewards, strict=True)]
        assert env.food(s) == ALL_FOOD
        if t < 100:
            assert s.done == [False, False]
            assert s.terminated == s.truncated == [False, False]
    assert s.rewards == pytest.approx([-0.01, -0.01])
    assert s.done == [True, True]
    assert s.truncated == [True, True]
    assert s.terminated == [False, False]
    if backend == "parallel":  # float64 rewards: the same float sum as the original
        assert returns == [-1.0000000000000007, -1.0000000000000007]
    else:
        assert returns == pytest.approx([-1.0, -1.0], abs=1e-5)


def test_all_apples_eaten_terminates(backend: str) -> None:
    # Agent 0 snakes through every item cell (9 apples, 9 lemons) while agent 1 waits: last apple at step 18.
    plan = [1] * 6 + [0] + [3] * 5 + [0] + [1] * 5
    env = Runner("checkers_v0", backend)
    env.reset()
    returns = [0.0, 0.0]
    for t, a in enumerate(plan, start=1):
        s = env.step([a, 4])
        returns = [g + r for g, r in zip(returns, s.rewards, strict=True)]
        assert s.done == [t == 18] * 2
    assert env.food(s) == {"lemon": 0, "apple": 0}
    assert s.terminated == [True, True]
    assert s.truncated == [False, False]
    assert returns == pytest.approx([9 * 5 - 9 * 5 - 0.18, -0.18], abs=1e-5)


def test_blocked_and_off_grid_moves_cost_only_the_step(backend: str) -> None:
    env = Runner("checkers_v0", backend)
    reset = env.reset()
    s = env.step([2, 0])  # UP from row 0 and DOWN from row 2: both leave the board
    assert s.rewards == pytest.approx([-0.01, -0.01])
    assert_array_equal(s.obs, reset)
    env.step([3, 3])  # to column 7
    s = env.step([3, 3])  # column 8 is outside
    assert s.obs[:, 1].tolist() == [1.0, 1.0]
    assert s.obs[0, 2:].tolist() == [0, 0, 0, 0, 3, 0, 0, 0, 0]  # outside cells read as 0


def test_is_valid_outside_cells(backend: str) -> None:
    del backend  # a pure function; parametrized only to share the module's marker
    for row, col in [(-1, -1), (-1, 0), (-1, 8), (3, 8)]:
        assert not checkers.inside(row, col)
    assert checkers.inside(0, 0) and checkers.inside(2, 7)
