"""Capability flags on the env registry: every id has them, they match what the env actually does, and the
commands read them instead of lists of ids."""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pz_toys import team

from matrl import training
from matrl.config import TrainConfig
from matrl.envs import EnvCapabilities, env_capabilities, make_env, make_vector_env, register_env
from matrl.envs import registry as env_registry
from matrl.rollout.local import LocalCollector

SRC = Path(__file__).resolve().parents[2] / "src" / "matrl"


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    register_env("team_caps", team)
    yield
    env_registry._REGISTERED.pop("team_caps", None)


def test_every_id_has_flags_and_unknown_ids_are_one_line() -> None:
    for env_id in env_registry.ENV_IDS:
        assert isinstance(env_capabilities(env_id), EnvCapabilities)
    for env_id in ("team_caps", "pettingzoo:pz_toys:team", "pettingzoo:mpe2.simple_spread_v3"):
        assert env_capabilities(env_id) == env_registry.THIRD_PARTY_CAPABILITIES
    assert env_capabilities("checkers_v0", {"max_steps": 3}) == env_capabilities("checkers_v0")
    with pytest.raises(ValueError, match=r"^unknown env id 'nope'; known ids: checkers_v0"):
        env_capabilities("nope")
    assert env_registry.env_ids_with("worker_processes") == ("hopper_3x1", "ant_4x2", "mamujoco", "pong_v3")
    with pytest.raises(ValueError, match="unknown capability 'fast'; allowed: snapshots, seeding"):
        env_registry.env_ids_with("fast")


def _constructor(env_id: str) -> Any:
    return env_registry._built_in_constructor(env_id)


@pytest.mark.parametrize("env_id", env_registry.ENV_IDS)
def test_flags_match_what_the_env_does(env_id: str) -> None:
    flags = env_capabilities(env_id)
    core = make_vector_env(env_id, 1)
    try:
        assert core.snapshots is flags.snapshots
        assert isinstance(core.state_dict(), dict)
        assert ("seed" in inspect.signature(_constructor(env_id)).parameters) is flags.seeding
        assert (len(getattr(core, "obs_shape", ())) == 3) is flags.image_obs
        assert core.action_spec.continuous is (flags.action_kind == "continuous")
    finally:
        core.close()
    if flags.frames:
        env = make_env(env_id, render_mode="rgb_array")
        env.reset(seed=0)
        frame = env.render()
        assert frame is not None and frame.ndim == 3 and frame.dtype == np.uint8
        env.close()
    else:
        with pytest.raises(ValueError, match="render_mode"):
            make_env(env_id, render_mode="rgb_array")
    if not flags.worker_processes:
        with pytest.raises(ValueError, match=f"num_workers=2 is not allowed for {env_id}"):
            make_vector_env(env_id, 2, num_workers=2)


def test_third_party_flags_match_the_adapter() -> None:
    flags = env_capabilities("team_caps")
    core = make_vector_env("team_caps", 2, seed=5)
    assert core.snapshots is flags.snapshots is False
    with pytest.raises(NotImplementedError):
        core.state_dict()
    assert flags.worker_processes and flags.frames  # team is a module-level function: workers rebuild it
    env_registry._REGISTERED["team_caps"] = lambda **kwargs: team(**kwargs)
    assert not env_capabilities("team_caps").worker_processes
    with pytest.raises(ValueError, match="num_workers=2 is not allowed for team_caps: its factory"):
        make_vector_env("team_caps", 2, num_workers=2)


def _config(env: str, **changes: Any) -> TrainConfig:
    return dataclasses.replace(TrainConfig(env=env), **changes)


def test_training_and_collection_read_the_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flipping a flag of checkers_v0 changes what make_collector and LocalCollector do."""
    third_party = env_registry.THIRD_PARTY_CAPABILITIES
    with pytest.raises(ValueError, match="env_workers=2 is not allowed for checkers_v0; worker"):
        training.make_collector(_config("checkers_v0", env_workers=2))
    monkeypatch.setitem(env_registry._CAPABILITIES, "checkers_v0", third_party)
    monkeypatch.setitem(
        env_registry._CAPABILITIES, "checkers_v0", dataclasses.replace(third_party, ray_rollout=False)
    )
    with pytest.raises(ValueError, match=r"rollout='ray' is not allowed for checkers_v0; expected 'local'"):
        training.make_collector(_config("checkers_v0", rollout="ray"))
    collector = LocalCollector("checkers_v0", 2)
    assert collector.snapshots is False and "restart_steps" in collector.state_dict()
    seeded = dataclasses.replace(third_party, seeding=True, snapshots=True)
    monkeypatch.setitem(env_registry._CAPABILITIES, "checkers_v0", seeded)
    with pytest.raises(TypeError, match="seed"):  # a seeded env gets the run's seed: CheckersCore takes none
        training.make_collector(_config("checkers_v0"))


def test_no_lists_of_env_ids_outside_envs() -> None:
    """The commands ask `env_capabilities`; the id tuples stay inside matrl.envs (and the registry's own
    list of every id, ENV_IDS, for choosing ids)."""
    pattern = re.compile(r"\b(GRID|MUJOCO|PONG|WORKER)_ENV_IDS\b")
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "envs" not in path.relative_to(SRC).parts and pattern.search(path.read_text())
    ]
    assert offenders == []
