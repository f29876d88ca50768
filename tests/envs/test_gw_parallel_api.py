"""PettingZoo API conformance, spaces, seeding/determinism and the error messages of the ParallelEnv."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo.test import parallel_api_test

from matrl.envs import GRID_ENV_IDS, GridParallelEnv, make_env

OBS_DIMS = {"checkers_v0": 11, "switch2_v0": 2, "switch4_v0": 2}
N_AGENTS = {"checkers_v0": 2, "switch2_v0": 2, "switch4_v0": 4}


@pytest.mark.parametrize("full_observable", [False, True])
@pytest.mark.parametrize("env_id", GRID_ENV_IDS)
def test_parallel_api(env_id: str, full_observable: bool) -> None:
    env = make_env(env_id, full_observable=full_observable)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the API test reports most problems as warnings
        parallel_api_test(env, num_cycles=300)


@pytest.mark.parametrize("full_observable", [False, True])
@pytest.mark.parametrize("env_id", GRID_ENV_IDS)
def test_spaces_and_observations_in_space(env_id: str, full_observable: bool) -> None:
    env = make_env(env_id, full_observable=full_observable)
    n = N_AGENTS[env_id]
    assert env.possible_agents == [f"agent_{i}" for i in range(n)]
    assert env.metadata["name"] == env_id
    dim = OBS_DIMS[env_id] * (n if full_observable else 1)
    for agent in env.possible_agents:
        box = env.observation_space(agent)
        assert isinstance(box, spaces.Box)
        assert box.shape == (dim,) and box.dtype == np.float32
        assert env.action_space(agent) == spaces.Discrete(5)
    obs, infos = env.reset(seed=1)
    assert set(infos) == set(env.agents)
    for _ in range(3):
        while env.agents:
            for agent in env.agents:
                assert env.observation_space(agent).contains(obs[agent]), (agent, obs[agent])
            obs, *_ = env.step({a: env.action_space(a).sample() for a in env.agents})
        obs, _ = env.reset()


def test_checkers_observation_bounds_are_upstream() -> None:
    box = make_env("checkers_v0").observation_space("agent_0")
    assert isinstance(box, spaces.Box)
    assert box.low.tolist() == [0, 0] + [-1] * 9
    assert box.high.tolist() == [1, 1] + [3] * 9


def play(env: GridParallelEnv, seed: int, episodes: int) -> list[Any]:
    """Seeded random play over whole episodes; the trajectory as a list of plain values."""
    trace: list[Any] = []
    obs, _ = env.reset(seed=seed)
    for k in range(episodes):
        if k:
            obs, _ = env.reset()
        while env.agents:
            actions = {a: int(env.action_space(a).sample()) for a in env.agents}
            obs, rew, term, trunc, _ = env.step(actions)
            trace.append((actions, {a: o.tolist() for a, o in obs.items()}, rew, term, trunc))
    return trace


@pytest.mark.parametrize("env_id", GRID_ENV_IDS)
def test_determinism_over_several_episodes(env_id: str) -> None:
    first = play(make_env(env_id), seed=11, episodes=3)
    again = play(make_env(env_id), seed=11, episodes=3)
    other = play(make_env(env_id), seed=12, episodes=3)
    assert len(first) >= 3 * 50
    assert first == again
    assert first != other


def test_reset_returns_fresh_episode_and_infos() -> None:
    env = make_env("checkers_v0")
    obs, infos = env.reset(seed=0, options={"ignored": True})
    assert infos["agent_0"] == {"food_count": {"lemon": 9, "apple": 9}, "done": False}
    env.step({"agent_0": 1, "agent_1": 1})
    obs2, infos2 = env.reset()
    assert infos2["agent_1"]["food_count"] == {"lemon": 9, "apple": 9}
    for a in env.agents:
        np.testing.assert_array_equal(obs[a], obs2[a])
    sw = make_env("switch2_v0")
    _, infos = sw.reset()
    assert infos["agent_1"] == {"arrived": False, "done": False}


def test_arrived_agent_stays_live_until_episode_end() -> None:
    env = make_env("switch2_v0")
    env.reset()
    plan = [[0, 4]] + [[3, 4]] * 5 + [[2, 0]] + [[4, 1]] * 5 + [[4, 2]]
    for t, (a0, a1) in enumerate(plan, start=1):
        _, rew, term, trunc, infos = env.step({"agent_0": a0, "agent_1": a1})
        if t < 13:
            assert env.agents == ["agent_0", "agent_1"]
            assert not any(term.values()) and not any(trunc.values())
            assert infos["agent_0"]["arrived"] == (t >= 7)
    assert rew == {"agent_0": -0.1, "agent_1": 5.0}
    assert term == {"agent_0": True, "agent_1": True}
    assert env.agents == []


@pytest.mark.parametrize(
    ("actions", "match"),
    [
        ({"agent_0": 0}, r"missing actions for agents \['agent_1'\]"),
        ({"agent_0": 0, "agent_1": 0, "agent_7": 0}, r"unknown agents \['agent_7'\]"),
        ({"agent_0": 5, "agent_1": 0}, r"invalid action 5 for agent_0; allowed: 0=DOWN, 1=LEFT"),
        ({"agent_0": 0, "agent_1": -1}, r"invalid action -1 for agent_1"),
        ({"agent_0": 1.0, "agent_1": 0}, r"invalid action 1\.0 for agent_0: must be an int"),
        ({"agent_0": True, "agent_1": 0}, r"invalid action True for agent_0: must be an int"),
        ({"agent_0": "UP", "agent_1": 0}, r"invalid action 'UP' for agent_0"),
        ({"agent_0": np.array([1, 2]), "agent_1": 0}, r"invalid action array\(\[1, 2\]\) for agent_0"),
        ([0, 0], r"actions must be a dict \{agent: int\}, got list"),
    ],
)
def test_invalid_actions_raise_one_line_value_error(actions: Any, match: str) -> None:
    env = make_env("checkers_v0")
    env.reset()
    with pytest.raises(ValueError, match=match) as info:
        env.step(actions)
    assert "\n" not in str(info.value)


def test_numpy_integer_actions_are_accepted() -> None:
    env = make_env("switch4_v0")
    env.reset()
    env.step({"agent_0": np.int64(0), "agent_1": np.uint8(0), "agent_2": np.array(4), "agent_3": 4})


def test_step_outside_an_episode_raises() -> None:
    env = make_env("switch2_v0", max_steps=1)
    with pytest.raises(ValueError, match="call reset"):
        env.step({"agent_0": 0, "agent_1": 0})
    env.reset()
    env.step({"agent_0": 0, "agent_1": 0})
    assert env.agents == []
    with pytest.raises(ValueError, match="call reset"):
        env.step({})
