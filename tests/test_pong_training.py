"""MATRL and IL on two-player Pong, end to end but tiny: registry, uint8 batches, CNN iterations, resume."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from matrl import checkpoint
from matrl.algorithm import MATRL
from matrl.cli import main
from matrl.config import CNNConfig, TrainConfig, preset
from matrl.envs import ENV_IDS, PONG_ENV_IDS, make_env, make_vector_env
from matrl.envs.pong import PongCore, PongParallelEnv
from matrl.eval.evaluate import evaluate, load_policy
from matrl.learners.conv import BatchedCNN
from matrl.rollout import LocalCollector
from matrl.training import make_collector, train
from test_training import final_weights, read_metrics

#: 4-frame steps, 6 steps an episode: a few episodes end in every tiny batch.
ENV_KWARGS = {"preprocessing": "atari", "max_steps": 6}


def tiny(algo: str = "matrl", **changes: object) -> TrainConfig:
    fields: dict[str, Any] = {
        "batch_size": 16,
        "num_envs": 2,
        "hidden": (8,),
        "cnn": CNNConfig(channels=(4, 4), kernels=(8, 4), strides=(4, 2)),
        "total_steps": 16 * 4,
        "checkpoint_every": 2,
        "env_kwargs": dict(ENV_KWARGS),
    }
    fields.update(changes)
    return dataclasses.replace(preset("pong_v3"), algo=algo, **fields)  # type: ignore[arg-type]


def random_actor(seed: int, n_actions: int = 6) -> Any:
    rng = np.random.default_rng(seed)

    def act(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        e, a = obs.shape[:2]
        zeros = np.zeros((e, a), np.float32)
        return rng.integers(0, n_actions, size=(e, a)), zeros, zeros

    return act


def test_pong_is_registered() -> None:
    assert PONG_ENV_IDS == ("pong_v3",) and ENV_IDS[-1] == "pong_v3"
    core = make_vector_env("pong_v3", 2, preprocessing="atari")
    assert isinstance(core, PongCore) and core.obs_shape == (4, 84, 84) and core.num_envs == 2
    env = make_env("pong_v3", preprocessing="paper")
    assert isinstance(env, PongParallelEnv) and env.observation_space("first_0").shape == (3, 84, 84)
    with pytest.raises(ValueError, match="env_workers=2 is not allowed for checkers_v0"):
        make_collector(dataclasses.replace(preset("checkers_v0"), env_workers=2))


def test_pong_preset_follows_paper_table_6() -> None:
    c = preset("pong_v3").validate()
    assert (c.batch_size, c.ppo.lr, c.meta.br_lr) == (4000, 2e-3, 2e-3)
    assert (c.ppo.update_iters, c.meta.br_iters) == (10, 5)
    assert (c.ppo.policy_coef, c.ppo.value_coef, c.ppo.entropy_coef, c.ppo.kl_coef) == (10.0, 0.1, 0.05, 0.01)
    assert c.ppo.gamma == 0.99 and c.network == "cnn" and c.hidden == (128,)
    assert c.iterations // c.checkpoint_every >= 10  # at least ten checkpoints, as in Fig. 6
    assert (
        c.env_kwargs == {"preprocessing": "paper"} and not c.obs_norm
    )  # chosen by experiment (docs/pong.md)


def test_collector_keeps_pixels_uint8_and_vector_envs_float32() -> None:
    collector = LocalCollector("pong_v3", 2, **ENV_KWARGS)
    assert collector.obs_dtype == np.uint8 and collector.obs_shape == (4, 84, 84)
    batch = collector.collect(random_actor(0), 7)
    for obs in (batch.obs, batch.next_obs):
        assert obs.dtype == np.uint8 and obs.shape == (7, 2, 2, 4 * 84 * 84) and obs.max() > 200
    assert batch.episode_over.sum() == 2  # both copies ended an episode at step 6
    state = collector.state_dict()
    assert state["obs"].dtype == np.uint8
    again = LocalCollector("pong_v3", 2, **ENV_KWARGS)
    again.load_state_dict(state)
    a, b = collector.collect(random_actor(1), 3), again.collect(random_actor(1), 3)
    assert np.array_equal(a.obs, b.obs) and np.array_equal(a.rewards, b.rewards)
    grid = LocalCollector("checkers_v0", 2)
    assert grid.obs_dtype == np.float32 and grid.obs_shape is None
    assert grid.collect(random_actor(0, grid.n_actions), 2).obs.dtype == np.float32


@pytest.mark.parametrize(("algo", "mixture"), [("il", "policy"), ("matrl", "policy"), ("matrl", "params")])
def test_an_iteration_on_pong_trains_per_agent_cnns(algo: str, mixture: str) -> None:
    base = preset("pong_v3")
    config = tiny(
        algo,
        ppo=dataclasses.replace(base.ppo, grad_chunk=5),
        meta=dataclasses.replace(base.meta, mixture=mixture),
    )
    learner = MATRL(config, make_collector(config))
    assert isinstance(learner.net.policy, BatchedCNN) and isinstance(learner.net.value, BatchedCNN)
    before = {k: v.clone() for k, v in learner.net.state_dict().items()}
    batch = learner.collect()
    samples = learner.prepare(batch)
    assert samples.obs.dtype == torch.uint8 and samples.obs.shape == (2, 16, 4 * 84 * 84)
    result = learner.iteration()
    assert learner.env_steps == 16 and result.metrics["episodes"] >= 2
    for key in ("predict_approx_kl", "predict_entropy", "total_return", "explained_variance"):
        assert math.isfinite(result.metrics[key]), key
    if algo == "matrl":
        assert 0.0 <= result.metrics["rho_0"] <= 1.0 and math.isfinite(result.metrics["br_weight_mean"])
    after = learner.net.state_dict()
    assert not torch.equal(after["policy.convs.0.weight"], before["policy.convs.0.weight"])


def test_pong_run_resumes_bit_identically_and_evaluates(tmp_path: Path) -> None:
    config = tiny()
    train(config, tmp_path / "full", progress=False, tensorboard=False)
    train(config, tmp_path / "cut", progress=False, stop_after=3, tensorboard=False)
    train(None, tmp_path / "cut", resume=True, progress=False, tensorboard=False)
    assert read_metrics(tmp_path / "cut") == read_metrics(tmp_path / "full")
    full, cut = final_weights(tmp_path / "full"), final_weights(tmp_path / "cut")
    assert full.keys() == cut.keys() and all(torch.equal(full[k], cut[k]) for k in full)
    assert [i for i, _ in checkpoint.list_models(tmp_path / "full")] == [2, 4]
    _, path = checkpoint.list_models(tmp_path / "full")[-1]
    policy, saved, _, _ = load_policy(path)
    assert saved == config and isinstance(policy.net.policy, BatchedCNN)  # type: ignore[attr-defined]
    result = evaluate(path, episodes=2, seed=0)
    assert result.returns.shape == (2, 2) and np.all(np.isfinite(result.returns))


def test_two_env_workers_collect_the_same_pixels_as_one() -> None:
    batches = []
    for workers in (1, 2):
        collector = make_collector(tiny(env_workers=workers))
        assert collector.obs_dtype == np.uint8 and collector.obs_shape == (4, 84, 84)  # type: ignore[attr-defined]
        batches.append(collector.collect(random_actor(3), 8))
        collector.close()  # type: ignore[attr-defined]
    assert np.array_equal(batches[0].obs, batches[1].obs)
    assert np.array_equal(batches[0].rewards, batches[1].rewards)


def test_cli_trains_pong_with_the_paper_frames(tmp_path: Path) -> None:
    out = tmp_path / "run"
    main(
        [
            "train", "--env", "pong_v3", "--algo", "il", "--out", str(out), "--no-progress",
            "--env-kwargs", '{"preprocessing": "paper", "max_steps": 4}',
            "--batch-size", "8", "--num-envs", "2", "--total-steps", "8", "--hidden", "8",
            "--cnn.channels", "2", "2", "--cnn.kernels", "8", "4", "--cnn.strides", "4", "2",
        ]
    )  # fmt: skip
    saved = TrainConfig.load(out / "config.json")
    assert saved.env_kwargs == {"preprocessing": "paper", "max_steps": 4} and saved.cnn.channels == (2, 2)
    weights = final_weights(out)
    assert weights["policy.convs.0.weight"].shape == (2, 2, 3, 8, 8)  # (agents, filters, RGB, kernel, kernel)
