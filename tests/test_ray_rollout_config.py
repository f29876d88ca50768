"""The Ray rollout options without a Ray cluster: validation, ``--envs-per-worker``, the missing-extra error,
the picklable policy and the joining of shards (the cluster tests are in tests/ray)."""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from matrl import training
from matrl.cli import main
from matrl.config import TrainConfig
from matrl.learners.actor_critic import ActorCritic
from matrl.rollout.base import Batch
from matrl.rollout.local import LocalCollector
from matrl.rollout.policy import NetworkPolicy
from matrl.rollout.ray_collector import RAY_MISSING, concatenate_shards


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rollout": "slurm"}, "rollout='slurm' is not allowed; expected one of local, ray"),
        ({"workers": 2}, "workers=2 is not allowed; expected 1 with rollout='local'"),
        ({"address": "auto"}, "address='auto' is not allowed; expected None with rollout='local'"),
        ({"rollout": "ray", "workers": 0}, "workers=0 is not allowed; expected >= 1"),
        ({"rollout": "ray", "workers": 32}, "workers=32 is not allowed; expected <= num_envs=16"),
        ({"rollout": "ray", "workers": 3}, "workers=3 is not allowed; expected a divisor of num_envs=16"),
        ({"rollout": "ray", "workers": 2, "envs_per_worker": 0}, "envs_per_worker=0 is not allowed"),
        ({"rollout": "ray", "algo": "qmix"}, "algo='qmix' is not allowed; expected one of matrl, il, il-pp"),
        ({"rollout": "ray", "workers": 8, "env_workers": 3}, "env_workers=3 is not allowed; expected <= "),
        ({"rollout": "ray", "address": " "}, "address=' ' is not allowed"),
    ],
)
def test_bad_rollout_settings_are_one_line_errors(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        TrainConfig(**changes).validate()


def test_envs_per_worker_sets_num_envs_and_round_trips() -> None:
    config = TrainConfig(rollout="ray", workers=3, envs_per_worker=4, batch_size=120).validate()
    assert config.num_envs == 12
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert dataclasses.replace(config, workers=2).num_envs == 8


def test_cli_num_envs_and_envs_per_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--rollout", "ray", "--num-envs", "8", "--envs-per-worker", "4"])
    assert exit_info.value.code == 2
    assert "--num-envs 8 and --envs-per-worker 4 are not allowed together" in capsys.readouterr().err

    seen: list[TrainConfig] = []
    monkeypatch.setattr(training, "train", lambda config, out, **kwargs: seen.append(config))
    saved = tmp_path / "config.json"
    config = TrainConfig(rollout="ray", workers=2, envs_per_worker=4, batch_size=64)
    saved.write_text(json.dumps(config.to_dict()))
    main(["train", "--from-config", str(saved), "--workers", "4"])  # copies per worker stay 4
    main(["train", "--from-config", str(saved), "--num-envs", "16"])  # an explicit --num-envs wins
    assert [(c.workers, c.envs_per_worker, c.num_envs) for c in seen] == [(4, 4, 16), (2, None, 16)]


def test_missing_ray_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    config = TrainConfig(rollout="ray", workers=2, num_envs=4, batch_size=64)
    with pytest.raises(ImportError, match=r'^--rollout ray needs Ray: pip install "matrl\[ray\]"$'):
        training.make_collector(config)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--rollout", "ray", "--workers", "2", "--out", str(tmp_path / "run"), "--no-progress"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"matrl: error: {RAY_MISSING}"
    assert not (tmp_path / "run").exists()


def test_network_policy_survives_pickling() -> None:
    collector = LocalCollector("hopper_3x1", 2, seed=0)
    try:
        torch.manual_seed(0)
        net = ActorCritic(collector.n_agents, collector.obs_dim, collector.action_spec, (16,))
        policy = NetworkPolicy(net, torch.Generator().manual_seed(7))
        copy = pickle.loads(pickle.dumps(policy))
        obs = collector.state_dict()["obs"]
        for a, b in zip(policy(obs), copy(obs), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(policy.to_env(policy(obs)[0] * 10), copy.to_env(copy(obs)[0] * 10))
    finally:
        collector.close()


def test_joined_shards_are_the_whole_batch_with_episodes_in_local_order() -> None:
    """Copies 0-1 and 2-4 collected apart, joined, equal all five collected together (the copies start at
    different steps of their episodes, so episodes end at different times and their order is tested)."""
    steps = 150
    whole_collector = LocalCollector("switch2_v0", 5)
    state = whole_collector.state_dict()
    state["env.steps"] = state["env.steps"] + np.array([0, 30, 10, 40, 20], dtype=state["env.steps"].dtype)
    whole_collector.load_state_dict(state)
    shards = [LocalCollector("switch2_v0", 2), LocalCollector("switch2_v0", 3)]
    shards[0].load_state_dict({key: value[:2] for key, value in state.items()})
    shards[1].load_state_dict({key: value[2:] for key, value in state.items()})
    table = np.random.default_rng(0).integers(0, 5, size=(steps, 5, 2))

    def scripted(columns: slice) -> Any:
        t = 0

        def act(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            nonlocal t
            actions = table[t, columns]
            t += 1
            zeros = np.zeros(actions.shape, dtype=np.float32)
            return actions, zeros, zeros

        return act

    whole = whole_collector.collect(scripted(slice(0, 5)), steps)
    parts = [shards[0].collect(scripted(slice(0, 2)), steps), shards[1].collect(scripted(slice(2, 5)), steps)]
    joined = concatenate_shards(parts)
    ends = np.nonzero(whole.episode_over)[1]  # the copies in the order their episodes ended
    assert len(ends) > 5 and not np.all(np.diff(ends) >= 0)  # not simply copy after copy
    for field in dataclasses.fields(whole):
        np.testing.assert_array_equal(getattr(joined, field.name), getattr(whole, field.name), field.name)


def test_joining_no_cluster_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray")

    def no_cluster(address: str | None = None, **kwargs: Any) -> None:
        raise ConnectionError("Could not find any running Ray instance.")

    # What ray.init(address="auto") raises with no cluster, without touching any real Ray instance.
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", no_cluster)
    from matrl.rollout.ray_collector import RayCollector

    with pytest.raises(ValueError, match=r"^address='auto': no Ray cluster to join \(Could not find any"):
        RayCollector("checkers_v0", 2, 1, address="auto")


def _batch(copies: int, rng: np.random.Generator, masks: bool) -> Batch:
    t, a = 3, 2
    shape = (t, copies, a)
    active = rng.random(shape) < 0.7 if masks else None
    return Batch(
        obs=rng.random((*shape, 4), dtype=np.float32),
        actions=rng.integers(0, 3, shape),
        logp=rng.random(shape, dtype=np.float32),
        values=rng.random(shape, dtype=np.float32),
        rewards=rng.random(shape, dtype=np.float32),
        next_obs=rng.random((*shape, 4), dtype=np.float32),
        terminated=np.zeros((t, copies), dtype=bool),
        episode_over=np.zeros((t, copies), dtype=bool),
        active=active,
        agent_terminated=None if active is None else ~active,
    )


def test_joined_shards_keep_the_agents_active_masks() -> None:
    """Agents that leave (third-party envs): each shard's ``active`` and ``agent_terminated`` reach the
    learner, joined along the copy axis; shards that disagree on having them are refused."""
    rng = np.random.default_rng(1)
    parts = [_batch(2, rng, masks=True), _batch(3, rng, masks=True)]
    joined = concatenate_shards(parts)
    for name in ("active", "agent_terminated", "obs"):
        expected = np.concatenate([getattr(p, name) for p in parts], axis=1)
        np.testing.assert_array_equal(getattr(joined, name), expected, name)
    assert concatenate_shards([_batch(2, rng, masks=False)] * 2).active is None
    with pytest.raises(ValueError, match=r"^some shards give active and some do not$"):
        concatenate_shards([_batch(2, rng, masks=True), _batch(2, rng, masks=False)])
