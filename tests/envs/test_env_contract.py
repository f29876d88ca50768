"""The PettingZoo contract of every registered id's `make_env` (issue 18): PettingZoo's own parallel API and
seed tests, plus what matrl relies on beyond them (observations inside their spaces, finite rewards, seeded
resets that repeat, and for the built-in ids frames exactly where ``rgb_array`` is declared). The ids come
from the registry, so a new built-in id is tested without editing this file; a registered third-party env
(one whose agent leaves mid-episode) goes through the same checks."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test
from pz_toys import team

from matrl.envs import make_env, register_env
from matrl.envs import registry as env_registry

REGISTERED = "team_contract"
IDS = [*env_registry.ENV_IDS, REGISTERED]


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    register_env(REGISTERED, partial(team, leave={"a0": 2}))  # an agent that leaves mid-episode
    yield
    env_registry._REGISTERED.pop(REGISTERED, None)


@pytest.mark.parametrize("env_id", IDS)
def test_pettingzoo_parallel_api(env_id: str) -> None:
    parallel_api_test(make_env(env_id), num_cycles=60)


@pytest.mark.parametrize("env_id", IDS)
def test_pettingzoo_parallel_seed(env_id: str) -> None:
    parallel_seed_test(partial(make_env, env_id), num_cycles=30)


def _rollout(env: Any, seed: int, steps: int) -> list[tuple[Any, ...]]:
    """Observations and rewards of ``steps`` steps with actions drawn from the action spaces (seeded)."""
    observations, _ = env.reset(seed=seed)
    for agent in env.possible_agents:
        env.action_space(agent).seed(seed)
    trace: list[tuple[Any, ...]] = [tuple(sorted((a, o.tobytes()) for a, o in observations.items()))]
    for _ in range(steps):
        if not env.agents:
            observations, _ = env.reset()
        for agent, obs in observations.items():
            space = env.observation_space(agent)
            assert space.contains(obs), (agent, obs.shape, obs.dtype, space)
        actions = {agent: env.action_space(agent).sample() for agent in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)
        assert set(rewards) <= set(env.possible_agents)
        assert set(terminations) == set(truncations) == set(rewards)
        assert all(isinstance(infos[a], dict) for a in infos)
        assert all(np.isfinite(float(r)) for r in rewards.values())
        trace.append(
            tuple(sorted((a, o.tobytes(), float(rewards.get(a, 0.0))) for a, o in observations.items()))
        )
    return trace


@pytest.mark.parametrize("env_id", IDS)
def test_observations_stay_in_their_spaces_and_a_seed_repeats(env_id: str) -> None:
    first = make_env(env_id)
    trace = _rollout(first, seed=3, steps=40)
    first.close()
    again = make_env(env_id)
    assert _rollout(again, seed=3, steps=40) == trace
    again.close()


@pytest.mark.parametrize("env_id", env_registry.ENV_IDS)  # a user's env draws (or not) as it likes
def test_frames_exactly_where_rgb_array_is_declared(env_id: str) -> None:
    declared = "rgb_array" in make_env(env_id).metadata.get("render_modes", [])
    if not declared:
        with pytest.raises(ValueError, match="rgb_array"):
            env = make_env(env_id, render_mode="rgb_array")
            env.reset(seed=0)
            env.render()
        return
    env = make_env(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
    assert frame.ndim == 3 and frame.shape[2] == 3 and min(frame.shape[:2]) >= 32
    assert frame.std() > 0  # a picture, not a blank
    env.close()
