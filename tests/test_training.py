"""`matrl train` runs on disk: run directory, resume after a kill, checkpoints, evaluate, plot, errors."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from matrl import checkpoint
from matrl.cli import main
from matrl.config import TrainConfig, preset
from matrl.eval.evaluate import evaluate
from matrl.training import train

TIMING_PREFIXES = ("time_", "steps_per_second")


def tiny(env: str = "checkers_v0", algo: str = "matrl", **changes: object) -> TrainConfig:
    base = preset(env)
    fields = {"batch_size": 64, "num_envs": 8, "hidden": (16,), "total_steps": 64 * 6, "checkpoint_every": 2}
    fields.update(changes)
    return dataclasses.replace(base, algo=algo, **fields)  # type: ignore[arg-type]


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in row.items() if not k.startswith(TIMING_PREFIXES)} for row in rows]


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    _, path = checkpoint.list_models(run_dir)[-1]
    return checkpoint.load_model(path)[0]


def test_run_directory_holds_config_versions_metrics_events_and_checkpoints(tmp_path: Path) -> None:
    config = tiny()
    train(config, tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert TrainConfig.load(run / "config.json") == config
    versions = json.loads((run / "versions.json").read_text())
    assert versions["torch"] == torch.__version__.split("+")[0] or versions["torch"].startswith("2.")
    rows = read_metrics(run)
    assert len(rows) == 6
    header = list(rows[0])
    assert header[:3] == ["iteration", "env_steps", "total_return"]
    for column in (
        "return_0",
        "return_1",
        "rho_0",
        "rho_1",
        "g0_01",
        "g1_11",
        "nash_conv",
        "predict_approx_kl",
    ):
        assert column in header
    assert [int(r["env_steps"]) for r in rows] == [64 * k for k in range(1, 7)]
    assert any((run / "tb").iterdir())
    assert [i for i, _ in checkpoint.list_models(run)] == [2, 4, 6]
    assert (run / "checkpoints" / "state.pt").exists()


@pytest.mark.parametrize(("algo", "mixture"), [("matrl", "policy"), ("matrl", "params"), ("il", "policy")])
def test_resume_after_stop_is_bit_identical(tmp_path: Path, algo: str, mixture: str) -> None:
    config = tiny(algo=algo)
    config = dataclasses.replace(config, meta=dataclasses.replace(config.meta, mixture=mixture))
    train(config, tmp_path / "full", progress=False)
    # Interrupted after 3 iterations: the last checkpoint is at 2, so iteration 3 is redone on resume.
    train(config, tmp_path / "cut", progress=False, stop_after=3)
    assert len(read_metrics(tmp_path / "cut")) == 3
    train(None, tmp_path / "cut", resume=True, progress=False)
    assert read_metrics(tmp_path / "cut") == read_metrics(tmp_path / "full")
    full, cut = final_weights(tmp_path / "full"), final_weights(tmp_path / "cut")
    assert full.keys() == cut.keys()
    assert all(torch.equal(full[k], cut[k]) for k in full)


def test_a_finished_run_extended_with_more_steps_equals_a_longer_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny()  # 6 iterations of 64 steps, a checkpoint every 2
    train(config, tmp_path / "long", progress=False)
    short = dataclasses.replace(config, total_steps=64 * 3)  # ends on iteration 3, between checkpoints
    train(short, tmp_path / "short", progress=False)
    main(
        ["train", "--out", str(tmp_path / "short"), "--resume", "--total-steps", str(64 * 6), "--no-progress"]
    )
    assert read_metrics(tmp_path / "short") == read_metrics(tmp_path / "long")
    long, extended = final_weights(tmp_path / "long"), final_weights(tmp_path / "short")
    assert all(torch.equal(long[k], extended[k]) for k in long)
    assert TrainConfig.load(tmp_path / "short" / "config.json") == config
    # Below the steps already trained: one line naming the value and the floor.
    err = _cli_error(["train", "--out", str(tmp_path / "short"), "--resume", "--total-steps", "100"], capsys)
    assert "--total-steps 100 is not allowed" in err and "expected >= 384" in err
    with pytest.raises(ValueError, match="needs resume"):
        train(config, tmp_path / "fresh", extend_to=640)


def test_resume_after_sigkill_is_bit_identical(tmp_path: Path) -> None:
    """A real `matrl train` process killed with SIGKILL mid-run, then resumed, equals an uninterrupted run."""
    args = ["--env", "checkers_v0", "--batch-size", "64", "--num-envs", "8", "--hidden", "16"]
    args += ["--total-steps", str(64 * 40), "--checkpoint-every", "3", "--no-progress"]
    exe = [sys.executable, "-m", "matrl.cli", "train"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([*exe, *args, "--out", str(tmp_path / "full")], check=True, env=env, capture_output=True)
    proc = subprocess.Popen([*exe, *args, "--out", str(tmp_path / "cut")], env=env, stdout=subprocess.DEVNULL)
    state = tmp_path / "cut" / "checkpoints" / "state.pt"
    deadline = time.monotonic() + 120
    while not state.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert state.exists()
    subprocess.run(
        [*exe, "--out", str(tmp_path / "cut"), "--resume", "--no-progress"],
        check=True,
        env=env,
        capture_output=True,
    )
    assert read_metrics(tmp_path / "cut") == read_metrics(tmp_path / "full")
    full, cut = final_weights(tmp_path / "full"), final_weights(tmp_path / "cut")
    assert all(torch.equal(full[k], cut[k]) for k in full)


def test_evaluate_reports_returns_of_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train(tiny(), tmp_path / "run", progress=False)
    path = checkpoint.list_models(tmp_path / "run")[-1][1]
    result = evaluate(path, episodes=5, seed=1)
    assert result.returns.shape == (5, 2)
    assert result.iteration == 6 and result.env_steps == 384
    assert (result.returns != 0).any()
    main(["evaluate", str(tmp_path / "run"), "--episodes", "3"])
    assert "3 episodes, total return" in capsys.readouterr().out


def test_plot_command_writes_a_png(tmp_path: Path) -> None:
    for algo in ("matrl", "il"):
        config = tiny(algo=algo, env_kwargs={"max_steps": 10})
        train(config, tmp_path / "runs" / algo, progress=False, tensorboard=False)
    main(["plot", str(tmp_path / "runs"), "--out", str(tmp_path / "curves.png"), "--smooth", "none"])
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_train_uses_the_env_preset_and_from_config(tmp_path: Path) -> None:
    out = tmp_path / "switch"
    size = ["--total-steps", "64", "--batch-size", "64", "--num-envs", "8", "--hidden", "8"]
    main(["train", "--env", "switch4_v0", *size, "--out", str(out), "--no-progress"])
    saved = TrainConfig.load(out / "config.json")
    assert saved.ppo.value_coef == preset("switch4_v0").ppo.value_coef == 0.01
    replay = tmp_path / "replay"
    main(["train", "--from-config", str(out / "config.json"), "--out", str(replay), "--no-progress"])
    assert read_metrics(replay) == read_metrics(out)


def _cli_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


def test_clear_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = ["--out", str(tmp_path / "x"), "--no-progress"]
    assert "unknown env id 'nope'" in _cli_error(["train", "--env", "nope", *out], capsys)
    assert "batch_size=100" in _cli_error(["train", "--batch-size", "100", "--num-envs", "16", *out], capsys)
    assert "meta.br_importance_clip=1.5" in _cli_error(
        ["train", "--meta.br-importance-clip", "1.5", *out], capsys
    )
    assert "ppo.gamma=0.0" in _cli_error(["train", "--ppo.gamma", "0", *out], capsys)
    assert "cannot resume" in _cli_error(["train", "--resume", "--out", str(tmp_path / "missing")], capsys)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"this is not a checkpoint")
    assert "is corrupt or not a matrl model checkpoint" in _cli_error(["evaluate", str(bad)], capsys)


def test_existing_run_is_not_overwritten_and_corrupt_state_is_reported(tmp_path: Path) -> None:
    config = tiny(total_steps=128)
    train(config, tmp_path / "run", progress=False, tensorboard=False)
    with pytest.raises(ValueError, match="already holds a run"):
        train(config, tmp_path / "run", progress=False)
    (tmp_path / "run" / "checkpoints" / "state.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt or not a matrl training state"):
        train(None, tmp_path / "run", resume=True, progress=False)


def test_config_round_trip_and_unknown_keys(tmp_path: Path) -> None:
    config = tiny(env_kwargs={"max_steps": 50})
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match=r"unknown config keys \['lr'\]"):
        TrainConfig.from_dict({"lr": 0.1})
    with pytest.raises(ValueError, match=r"unknown config keys ppo.\['learning_rate'\]"):
        TrainConfig.from_dict({"ppo": {"learning_rate": 0.1}})
