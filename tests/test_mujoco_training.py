"""MATRL on multi-agent MuJoCo, end to end but short: every algorithm runs, a resumed run is bit-identical,
two env worker processes give the same numbers as one, checkpoints carry the observation statistics."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from matrl import checkpoint
from matrl.algorithm import MATRL
from matrl.config import MATRL_ALGOS, TrainConfig, preset
from matrl.eval.evaluate import evaluate
from matrl.training import make_collector, train
from test_training import final_weights, read_metrics


def tiny(algo: str = "matrl", **changes: object) -> TrainConfig:
    fields: dict[str, object] = {
        "batch_size": 160,
        "num_envs": 4,
        "env_workers": 1,
        "hidden": (16,),
        "total_steps": 160 * 4,
        "checkpoint_every": 2,
    }
    fields.update(changes)
    return dataclasses.replace(preset("hopper_3x1"), algo=algo, **fields)  # type: ignore[arg-type]


def test_hopper_preset_follows_paper_table_5() -> None:
    config = preset("hopper_3x1")
    assert (config.batch_size, config.hidden, config.ppo.lr, config.meta.br_lr) == (
        4000,
        (128, 128),
        2e-3,
        2e-3,
    )
    assert (config.ppo.update_iters, config.meta.br_iters, config.ppo.gamma) == (10, 5, 0.99)
    assert (config.ppo.policy_coef, config.ppo.value_coef) == (100.0, 0.001)
    assert (config.ppo.entropy_coef, config.ppo.kl_coef) == (0.05, 0.01)
    assert preset("ant_4x2").env == "ant_4x2"


@pytest.mark.parametrize("algo", MATRL_ALGOS)
def test_every_algorithm_runs_an_iteration_on_hopper(algo: str) -> None:
    config = tiny(algo)
    collector = make_collector(config)
    learner = MATRL(config, collector)
    result = learner.iteration()
    assert learner.env_steps == 160
    assert learner.net.spec.continuous and learner.net.spec.dim == 1
    for key in ("predict_approx_kl", "predict_entropy"):
        assert math.isfinite(result.metrics[key])
    if algo in ("matrl", "matrl-nobr"):
        assert 0.0 <= result.metrics["rho_0"] <= 1.0
    if algo in ("matrl", "il-pp"):
        assert math.isfinite(result.metrics["br_weight_mean"])
    # Observation statistics moved, after the iteration, from the batch just collected.
    assert learner.net.obs_norm is not None and float(learner.net.obs_norm.count) == 160.0


def test_hopper_run_resumes_bit_identically_and_evaluates(tmp_path: Path) -> None:
    config = tiny()
    train(config, tmp_path / "full", progress=False, tensorboard=False)
    train(config, tmp_path / "cut", progress=False, stop_after=3, tensorboard=False)
    train(None, tmp_path / "cut", resume=True, progress=False, tensorboard=False)
    assert read_metrics(tmp_path / "cut") == read_metrics(tmp_path / "full")
    full, cut = final_weights(tmp_path / "full"), final_weights(tmp_path / "cut")
    assert all(torch.equal(full[k], cut[k]) for k in full)
    assert float(full["obs_norm.count"]) == 640.0 and "log_std" in full
    _, path = checkpoint.list_models(tmp_path / "full")[-1]
    result = evaluate(path, episodes=2, seed=0, greedy=True)
    assert result.returns.shape == (2, 3)
    assert np.all(np.isfinite(result.returns))


def test_two_env_workers_give_the_same_numbers_as_one() -> None:
    results = []
    for workers in (1, 2):
        config = tiny(env_workers=workers, total_steps=160 * 2)
        collector = make_collector(config)
        learner = MATRL(config, collector)
        metrics = [learner.iteration().metrics for _ in range(2)]
        results.append((metrics, {k: v.clone() for k, v in learner.net.state_dict().items()}))
        close = getattr(collector, "close", None)
        if close is not None:
            close()
    (m1, w1), (m2, w2) = results
    assert m1 == m2 or all(
        (a[k] == b[k]) or (math.isnan(a[k]) and math.isnan(b[k]))
        for a, b in zip(m1, m2, strict=True)
        for k in a
    )
    assert all(torch.equal(w1[k], w2[k]) for k in w1)


def test_tanh_bounds_run_and_bad_continuous_settings_are_one_line_errors() -> None:
    learner = MATRL(tiny(action_bounds="tanh"), make_collector(tiny(action_bounds="tanh")))
    batch = learner.collect()
    assert batch.actions.shape == (40, 4, 3, 1) and batch.actions.dtype == np.float32
    with pytest.raises(ValueError, match="action_bounds='box' is not allowed"):
        tiny(action_bounds="box").validate()
    with pytest.raises(ValueError, match=r"reward_scale=0\.0 is not allowed"):
        tiny(reward_scale=0.0).validate()
    with pytest.raises(ValueError, match="env_workers=8 is not allowed"):
        tiny(env_workers=8).validate()


def test_cli_env_kwargs_name_any_scenario_and_bad_json_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from matrl.cli import main

    out = tmp_path / "hc"
    args = ["train", "--env", "mamujoco", "--out", str(out), "--no-progress", "--total-steps", "80"]
    args += ["--batch-size", "80", "--num-envs", "2", "--env-workers", "1", "--hidden", "8"]
    main([*args, "--env-kwargs", '{"scenario": "HalfCheetah", "agent_conf": "2x3"}'])
    saved = TrainConfig.load(out / "config.json")
    assert saved.env_kwargs == {"scenario": "HalfCheetah", "agent_conf": "2x3"}
    assert len(read_metrics(out)) == 1
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main([*args[:3], str(tmp_path / "bad"), "--env-kwargs", "{oops"])
    err = capsys.readouterr().err.strip()
    assert err.startswith("matrl: error: --env-kwargs '{oops' is not valid JSON") and "\n" not in err
