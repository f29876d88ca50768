"""Batched core contract: auto-reset per copy, final_obs, episode stats, action checks, registry."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from matrl.envs import (
    ENV_IDS,
    GRID_ENV_IDS,
    MUJOCO_ENV_IDS,
    CheckersCore,
    GridParallelEnv,
    SwitchCore,
    make_env,
    make_vector_env,
)

# Switch2 plans: S5 has the agents arrive at steps 7 and 13, S6 (optimal) both at step 12.
S5 = [[0, 4]] + [[3, 4]] * 5 + [[2, 0]] + [[4, 1]] * 5 + [[4, 2]]
S6 = [[0, 0], [3, 0], [3, 0], [3, 2], [3, 0], [3, 0], [0, 1], [0, 1], [0, 1], [0, 1], [2, 1], [2, 2]]


def test_attributes() -> None:
    core = make_vector_env("switch4_v0", 8)
    assert isinstance(core, SwitchCore)
    assert (core.num_envs, core.n_agents, core.obs_dim, core.n_actions) == (8, 4, 2, 5)
    assert core.agent_ids == ("agent_0", "agent_1", "agent_2", "agent_3")
    full = make_vector_env("checkers_v0", 3, full_observable=True)
    assert isinstance(full, CheckersCore)
    assert full.obs_dim == 22 and full.reset().shape == (3, 2, 22)
    assert full.reset().dtype == np.float32


def test_auto_reset_per_copy() -> None:
    core = make_vector_env("switch2_v0", 3)
    reset_obs = core.reset()
    idle = [4, 4]
    for t in range(1, 15):
        joint = np.array([S6[t - 1] if t <= 12 else idle, idle, S5[t - 1] if t <= 13 else idle])
        res = core.step(joint)
        assert res.rewards.dtype == np.float32 and res.rewards.shape == (3, 2)
        assert res.episode_over.tolist() == [t == 12, False, t == 13]
        if t == 12:
            assert_array_equal(res.final_obs[0], np.float32([[0.0, 1.0], [0.0, 0.0]]))
            assert_array_equal(res.obs[0], reset_obs[0])  # already reset
            assert_array_equal(res.obs[1:], res.final_obs[1:])  # the others untouched
            assert res.terminated[0].tolist() == [True, True]
            assert res.info["arrived"][0].tolist() == [True, True]  # pre-reset
            assert res.episode_length.tolist() == [12, 12, 12]
            assert res.episode_return[0] == pytest.approx([3.9, 3.9], abs=1e-5)
        if t == 13:
            assert res.episode_length.tolist() == [1, 13, 13]
            assert res.episode_return[0].tolist() == pytest.approx([-0.1, -0.1])
            assert res.info["arrived"][0].tolist() == [False, False]
            assert res.info["arrived"][2].tolist() == [True, True]
            assert res.episode_return[2] == pytest.approx([3.8, 3.8], abs=1e-5)
            assert_array_equal(res.obs[2], reset_obs[2])
        if t == 14:
            assert res.episode_length.tolist() == [2, 14, 1]
    assert not res.terminated.any() and not res.truncated.any()


def test_auto_reset_on_time_limit_restores_food() -> None:
    core = make_vector_env("checkers_v0", 2, max_steps=3)
    reset_obs = core.reset()
    for _ in range(3):
        res = core.step(np.array([[1, 1], [4, 4]]))
    assert res.episode_over.tolist() == [True, True]
    assert res.truncated.all() and not res.terminated.any()
    assert res.info["lemon_count"].tolist() == [5, 9] and res.info["apple_count"].tolist() == [7, 9]
    assert_array_equal(res.obs, reset_obs)
    res = core.step(np.array([[4, 4], [4, 4]]))
    assert res.info["lemon_count"].tolist() == [9, 9] and res.info["apple_count"].tolist() == [9, 9]
    assert res.episode_length.tolist() == [1, 1]


def test_autoreset_false_freezes_finished_copies() -> None:
    core = make_vector_env("switch2_v0", 1, max_steps=2, autoreset=False)
    core.reset()
    core.step(np.array([[0, 0]]))
    res = core.step(np.array([[3, 1]]))
    assert res.episode_over[0]
    assert res.obs is res.final_obs
    with pytest.raises(ValueError, match=r"episode is over in env copies \[0\].*call reset"):
        core.step(np.array([[0, 0]]))
    core.reset()
    assert not core.step(np.array([[0, 0]])).episode_over[0]


def test_reset_mid_episode_restarts_every_copy() -> None:
    core = make_vector_env("checkers_v0", 4)
    first = core.reset(seed=0)
    for _ in range(5):
        core.step(np.ones((4, 2), dtype=np.int64))
    assert_array_equal(core.reset(seed=123), first)
    res = core.step(np.full((4, 2), 4))
    assert res.episode_length.tolist() == [1] * 4
    assert res.info["apple_count"].tolist() == [9] * 4


@pytest.mark.parametrize(
    ("actions", "match"),
    [
        (
            np.zeros((2, 3), dtype=int),
            r"actions must have shape \(2, 2\) \(num_envs, n_agents\), got shape \(2, 3\)",
        ),
        (np.zeros(4, dtype=int), r"got shape \(4,\)"),
        (np.zeros((2, 2), dtype=np.float32), r"actions must have an integer dtype, got float32"),
        (np.zeros((2, 2), dtype=bool), r"integer dtype, got bool"),
        (np.array([[0, 0], [0, 5]]), r"invalid action 5 for env 1, agent_1; allowed: 0=DOWN, 1=LEFT, 2=UP"),
        (np.array([[-1, 0], [0, 0]]), r"invalid action -1 for env 0, agent_0"),
        ([[0, 0], [0, "a"]], r"integer dtype"),
    ],
)
def test_core_invalid_actions(actions: Any, match: str) -> None:
    core = make_vector_env("checkers_v0", 2)
    core.reset()
    with pytest.raises(ValueError, match=match) as info:
        core.step(actions)
    assert "\n" not in str(info.value)


def test_core_accepts_lists_and_small_int_dtypes() -> None:
    core = make_vector_env("switch4_v0", 2)
    core.reset()
    core.step([[0, 0, 0, 0], [4, 4, 4, 4]])
    core.step(np.zeros((2, 4), dtype=np.uint8))


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="num_envs must be >= 1, got 0"):
        make_vector_env("checkers_v0", 0)
    with pytest.raises(ValueError, match="max_steps must be >= 1"):
        make_vector_env("switch2_v0", 1, max_steps=0)
    with pytest.raises(ValueError, match="n_agents must be 2, 3 or 4"):
        SwitchCore(1, n_agents=5)
    with pytest.raises(ValueError, match="reward_dtype must be a float dtype"):
        make_vector_env("switch2_v0", 1, reward_dtype=np.int32)


def test_options_change_the_game() -> None:
    core = make_vector_env("checkers_v0", 1, step_cost=-0.5, max_steps=2)
    core.reset()
    assert core.step([[4, 4]]).rewards[0].tolist() == [-0.5, -0.5]
    assert core.step([[4, 4]]).truncated.all()
    sw = make_vector_env("switch4_v0", 1, step_cost=0.0)
    sw.reset()
    assert sw.step([[4, 4, 4, 4]]).rewards.tolist() == [[0.0] * 4]


def test_registry() -> None:
    assert GRID_ENV_IDS == ("checkers_v0", "switch2_v0", "switch4_v0")
    assert ENV_IDS == (*GRID_ENV_IDS, "matrix_v0", *MUJOCO_ENV_IDS, "pong_v3")
    for env_id in (*GRID_ENV_IDS, "matrix_v0"):
        env = make_env(env_id)
        assert isinstance(env, GridParallelEnv)
        assert str(env) == env_id
        assert make_vector_env(env_id, 2).num_envs == 2


def test_make_env_rejects_core_only_options() -> None:
    with pytest.raises(ValueError, match=r"make_env sets \['autoreset', 'num_envs'\] itself"):
        make_env("checkers_v0", num_envs=4, autoreset=True)


@pytest.mark.parametrize("bad", ["Checkers-v0", "checkers_v1", "", None])
def test_unknown_env_id(bad: Any) -> None:
    msg = rf"unknown env id {bad!r}; known ids: checkers_v0, switch2_v0, switch4_v0, matrix_v0"
    with pytest.raises(ValueError, match=msg.replace("(", r"\(")):
        make_env(bad)
    with pytest.raises(ValueError, match="unknown env id"):
        make_vector_env(bad, 4)
