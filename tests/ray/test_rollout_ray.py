"""The Ray rollout backend on a two-node loopback cluster: parity with the local backend, determinism with two
workers, a worker killed during collection, the shards' env seeds."""

from __future__ import annotations

import csv
import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from matrl import checkpoint, training
from matrl.config import TrainConfig
from matrl.rollout.local import LocalCollector
from matrl.rollout.ray_collector import RayCollector

pytestmark = pytest.mark.xdist_group("ray")

#: Columns that measure time (or Ray events), not learning.
_UNTIMED = ("steps_per_second", "rollout_restarts")

CONFIG = TrainConfig(
    env="checkers_v0",
    total_steps=192,
    batch_size=64,
    num_envs=4,
    hidden=(16,),
    checkpoint_every=1,
    seed=3,
)


def _metrics(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in row.items() if not k.startswith("time_") and k not in _UNTIMED} for row in rows]


def _final_state(run: Path) -> dict[str, Any]:
    return checkpoint.load_state(run)  # type: ignore[no-any-return]


def _assert_same_state(a: dict[str, Any], b: dict[str, Any]) -> None:
    net_a, net_b = a["algorithm"]["net"], b["algorithm"]["net"]
    assert net_a.keys() == net_b.keys()
    for key in net_a:
        torch.testing.assert_close(net_a[key], net_b[key], rtol=0, atol=0, msg=key)
    assert torch.equal(a["algorithm"]["sampler"], b["algorithm"]["sampler"])
    assert a["collector"].keys() == b["collector"].keys()
    for key in a["collector"]:
        np.testing.assert_array_equal(a["collector"][key], b["collector"][key], err_msg=key)


def test_one_worker_reproduces_the_local_run_across_a_resume(ray_cluster: Any, tmp_path: Path) -> None:
    local = training.train(CONFIG, tmp_path / "local", progress=False, tensorboard=False)
    config = dataclasses.replace(CONFIG, rollout="ray", workers=1)
    run = tmp_path / "ray"
    training.train(config, run, progress=False, tensorboard=False, stop_after=2)
    training.train(None, run, resume=True, progress=False, tensorboard=False)

    assert _metrics(run) == _metrics(local)
    assert len(_metrics(run)) == CONFIG.iterations
    _assert_same_state(_final_state(run), _final_state(local))
    with (run / "metrics.csv").open() as f:
        assert all(row["rollout_restarts"] == "0" for row in csv.DictReader(f))


def test_two_workers_repeat_their_numbers_and_survive_a_worker_killed_mid_collection(
    ray_cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = dataclasses.replace(CONFIG, rollout="ray", workers=2)
    clean = training.train(config, tmp_path / "clean", progress=False, tensorboard=False)

    make_collector = training.make_collector
    armed: list[RayCollector] = []

    def make_and_arm(cfg: TrainConfig) -> Any:
        collector = make_collector(cfg)
        assert isinstance(collector, RayCollector)
        # Worker 1 dies in the second iteration, 5 steps into it (16 steps per env copy per iteration).
        import ray

        ray.get(collector.actors[1].crash_after_steps.remote(cfg.steps_per_env + 5))
        armed.append(collector)
        return collector

    monkeypatch.setattr(training, "make_collector", make_and_arm)
    with caplog.at_level(logging.WARNING, logger="matrl.rollout.ray_collector"):
        killed = training.train(config, tmp_path / "killed", progress=False, tensorboard=False)
    monkeypatch.undo()

    assert armed and armed[0].restarts == 1
    message = "worker 1 (env copies 2..3) died during collection; restarted and re-collected its share"
    assert message in caplog.text
    with (killed / "metrics.csv").open() as f:
        assert [row["rollout_restarts"] for row in csv.DictReader(f)] == ["0", "1", "0"]
    assert _metrics(killed) == _metrics(clean)
    _assert_same_state(_final_state(killed), _final_state(clean))

    # K = 2 samples other actions than K = 1 (a generator per shard): the runs must not coincide by accident.
    local = training.train(CONFIG, tmp_path / "local", progress=False, tensorboard=False)
    assert _metrics(local) != _metrics(clean)


def test_shards_seed_their_copies_as_the_local_core_does(ray_cluster: Any) -> None:
    collector = RayCollector("hopper_3x1", 4, workers=2, env_kwargs={"seed": 11})
    try:
        shards = collector.state_dict()
    finally:
        collector.close()
    local = LocalCollector("hopper_3x1", 4, seed=11)
    try:
        whole = local.state_dict()
    finally:
        local.close()
    assert shards.keys() == whole.keys()
    for key in whole:
        np.testing.assert_array_equal(shards[key], whole[key], err_msg=key)


def test_a_worker_out_of_restarts_is_replaced_and_its_share_collected_again(ray_cluster: Any) -> None:
    import ray
    from matrl.learners.actor_critic import ActorCritic
    from matrl.rollout.policy import NetworkPolicy

    local = LocalCollector("switch2_v0", 3)
    collector = RayCollector("switch2_v0", 3, workers=1, max_restarts=0)
    try:
        torch.manual_seed(0)
        net = ActorCritic(local.n_agents, local.obs_dim, local.action_spec, (16,))
        policies = [NetworkPolicy(net, torch.Generator().manual_seed(5)) for _ in range(2)]
        first = collector.actors[0]
        ray.get(first.crash_after_steps.remote(30))  # dies in the second batch, with no restart left
        for _ in range(2):
            expected = local.collect(policies[0], 20, to_env=policies[0].to_env)
            batch = collector.collect(policies[1], 20, to_env=policies[1].to_env)
            for name in ("obs", "actions", "logp", "rewards", "episode_over", "episode_returns"):
                np.testing.assert_array_equal(getattr(batch, name), getattr(expected, name), err_msg=name)
        assert collector.restarts == 1
        assert collector.actors[0] != first
        assert torch.equal(policies[0].sampler.get_state(), policies[1].sampler.get_state())
    finally:
        collector.close()


def test_an_error_in_a_worker_arrives_as_itself(ray_cluster: Any) -> None:
    import ray

    with pytest.raises(ValueError, match=r"^unknown game 'nonexistent'; allowed: ") as info:
        RayCollector("matrix_v0", 2, workers=1, env_kwargs={"game": "nonexistent"})
    assert not isinstance(info.value, ray.exceptions.RayError)  # the env's own error, one line on the CLI


def _import_pz_toys() -> Any:
    """tests/envs/pz_toys.py as a module (this directory is not on sys.path)."""
    import importlib.util
    import sys

    if "pz_toys" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "pz_toys", Path(__file__).parents[1] / "envs" / "pz_toys.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["pz_toys"] = module
        spec.loader.exec_module(module)
    return sys.modules["pz_toys"]


def test_a_registered_pettingzoo_env_collects_on_ray_as_in_process_and_resumes(
    ray_cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `register_env` name: its factory travels to the actors (by value here, as for a user's script); one
    worker gives the local numbers, across a resume that restarts the episodes (no env snapshots) too."""
    import ray.cloudpickle

    from matrl.envs import register_env
    from matrl.envs import registry as env_registry

    toys = _import_pz_toys()
    ray.cloudpickle.register_pickle_by_value(toys)  # the actors cannot import tests/envs/pz_toys.py
    register_env("team_ray", toys.team)
    try:
        kwargs = {"obs_sizes": [3, 5], "actions": [2, 4], "leave": {"a1": 3}}  # a1 leaves mid-episode
        config = dataclasses.replace(CONFIG, env="team_ray", env_kwargs=kwargs, total_steps=128)
        runs = {}
        for name, changes in {"local": {}, "ray": {"rollout": "ray", "workers": 1}}.items():
            runs[name] = tmp_path / name
            cfg = dataclasses.replace(config, **changes)
            training.train(cfg, runs[name], progress=False, tensorboard=False, stop_after=2)
            capsys.readouterr()
            training.train(None, runs[name], resume=True, progress=False, tensorboard=False)
            assert "note: resumed with fresh episodes of team" in capsys.readouterr().err
        assert len(_metrics(runs["ray"])) == config.iterations
        assert _metrics(runs["ray"]) == _metrics(runs["local"])
        _assert_same_state(_final_state(runs["ray"]), _final_state(runs["local"]))

        two = training.train(
            dataclasses.replace(config, rollout="ray", workers=2),
            tmp_path / "two",
            progress=False,
            tensorboard=False,
        )
        state = _final_state(two)["collector"]
        assert list(state) == ["restart_steps"] and int(state["restart_steps"][0]) == 128 // config.num_envs
    finally:
        env_registry._REGISTERED.pop("team_ray", None)
        ray.cloudpickle.unregister_pickle_by_value(toys)
