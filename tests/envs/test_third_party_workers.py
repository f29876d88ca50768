"""Third-party PettingZoo envs in env worker processes (``--env-workers K``, issue 18): the same numbers as in
one process, a worker's exception raised again in the parent, and a one-line refusal for a registered factory
that a worker process cannot rebuild."""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pz_toys import team

from matrl import training
from matrl.config import TrainConfig
from matrl.envs import SubprocessVectorCore, env_capabilities, make_vector_env, register_env
from matrl.envs import registry as env_registry

#: mpe2 is an optional extra (matrl[mpe]: its pygame-ce replaces pygame), so CI may not have it.
needs_mpe2 = pytest.mark.skipif(importlib.util.find_spec("mpe2") is None, reason="needs mpe2 (matrl[mpe])")
SPREAD = "pettingzoo:mpe2.simple_spread_v3"


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    register_env("team_workers", team)
    register_env("team_lambda", lambda **kwargs: team(**kwargs))
    yield
    for name in ("team_workers", "team_lambda"):
        env_registry._REGISTERED.pop(name, None)


def _trajectory(env_id: str, workers: int, steps: int, num_envs: int = 4, **kwargs: Any) -> list[np.ndarray]:
    """Observations, rewards, flags and active masks of ``steps`` seeded random steps."""
    core = make_vector_env(env_id, num_envs, num_workers=workers, **kwargs)
    try:
        out = [core.reset()]
        rng = np.random.default_rng(0)
        counts = np.asarray(core.action_spec.counts or [core.n_actions] * core.n_agents)
        for _ in range(steps):
            actions = (rng.random((num_envs, core.n_agents)) * counts).astype(np.int64)
            r = core.step(actions)
            out += [
                r.obs,
                r.final_obs,
                r.rewards,
                r.terminated,
                r.truncated,
                r.episode_over,
                r.info["active"],
            ]
    finally:
        core.close()
    return out


@needs_mpe2
def test_simple_spread_gives_the_same_numbers_with_one_and_two_workers() -> None:
    """60 steps over two 25-step episodes (auto-resets included): every array equal."""
    one = _trajectory(SPREAD, 1, 60, seed=3)
    two = _trajectory(SPREAD, 2, 60, seed=3)
    assert len(one) == len(two)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(one[0], _trajectory(SPREAD, 1, 0, seed=4)[0])  # the seed matters


def test_a_registered_module_level_factory_runs_in_workers_with_agents_that_leave() -> None:
    kwargs = {"obs_sizes": (3, 5, 2), "actions": (2, 4, 3), "leave": {"a1": 2}, "seed": 7}
    core = make_vector_env("team_workers", 5, num_workers=3, **kwargs)
    try:
        assert isinstance(core, SubprocessVectorCore) and core.sizes == (2, 2, 1)
        assert core.action_spec.counts == (2, 4, 3) and core.obs_dim == 5
    finally:
        core.close()
    one = _trajectory("team_workers", 1, 14, num_envs=5, **kwargs)
    three = _trajectory("team_workers", 3, 14, num_envs=5, **kwargs)
    for a, b in zip(one, three, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.all(one[7::7])  # a1 left: the active masks say so, the same in both


def test_a_factory_workers_cannot_rebuild_is_refused_in_one_line() -> None:
    assert env_capabilities("team_workers").worker_processes
    assert env_capabilities(SPREAD).worker_processes
    assert not env_capabilities("team_lambda").worker_processes
    make_vector_env("team_lambda", 2).close()  # in this process it is fine
    with pytest.raises(ValueError, match="num_workers=2 is not allowed for team_lambda: its factory") as err:
        make_vector_env("team_lambda", 2, num_workers=2)
    assert "\n" not in str(err.value) and "<lambda>" in str(err.value)
    assert str(err.value).endswith("or use pettingzoo:PACKAGE.MODULE:FACTORY or an entry point")
    config = dataclasses.replace(TrainConfig(env="team_lambda"), num_envs=2, env_workers=2)
    with pytest.raises(ValueError, match="env_workers=2 is not allowed for team_lambda: its factory"):
        training.make_collector(config)


def test_a_workers_exception_is_raised_again_with_its_message() -> None:
    with pytest.raises(ValueError, match=r"refused env kwargs \{'bogus': 1\}") as err:
        make_vector_env("pettingzoo:pz_toys:team", 2, num_workers=2, bogus=1)
    assert "raised in env worker 0" in "".join(getattr(err.value, "__notes__", []))
    core = make_vector_env("pettingzoo:pz_toys:crashing", 4, num_workers=2, crash_at=2)
    try:
        core.reset()
        core.step(np.zeros((4, 2), dtype=np.int64))
        with pytest.raises(RuntimeError) as crash:
            core.step(np.zeros((4, 2), dtype=np.int64))
        assert str(crash.value) == "team env crashed at step 2"  # its type and message; the traceback a note
        assert "pz_toys.py" in "".join(crash.value.__notes__)
    finally:
        core.close()
    with pytest.raises(ValueError, match="cannot import module 'no_such_env_module'"):
        make_vector_env("pettingzoo:no_such_env_module", 2, num_workers=2)


@needs_mpe2
def test_training_collects_from_env_workers() -> None:
    config = dataclasses.replace(TrainConfig(env=SPREAD), num_envs=2, env_workers=2, seed=1)
    collector = training.make_collector(config)
    try:
        assert isinstance(collector.core, SubprocessVectorCore)
        assert collector.core.num_workers == 2
    finally:
        collector.close()
