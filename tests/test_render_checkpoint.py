"""`matrl render --checkpoint RUN`: play a trained policy from a run directory's latest model (issue 18)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from matrl.cli import main
from matrl.config import preset
from matrl.envs import make_env
from matrl.eval.evaluate import checkpoint_policy, load_policy
from matrl.training import train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = dataclasses.replace(
        preset("switch2_v0", "matrl"),
        batch_size=64,
        num_envs=8,
        hidden=(16,),
        total_steps=128,
        checkpoint_every=1,
    )
    return train(config, tmp_path_factory.mktemp("render") / "run", progress=False, tensorboard=False)


def test_the_policy_is_the_checkpoints(run_dir: Path) -> None:
    model = sorted((run_dir / "checkpoints").glob("iter_*.safetensors"))[-1]
    act, config, iteration = checkpoint_policy(model, greedy=True)
    assert (config.env, iteration) == ("switch2_v0", 2)
    env = make_env("switch2_v0")
    obs, _ = env.reset(seed=4)
    policy = load_policy(model)[0]
    stacked = np.stack([obs[a] for a in env.possible_agents])[None].astype(np.float32)
    expected = policy.env_actions(stacked, True, torch.Generator())[0]
    assert act(obs) == {a: int(expected[i]) for i, a in enumerate(env.possible_agents)}


def test_render_checkpoint_writes_the_runs_episode(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a.gif", "b.gif"):
        main(
            ["render", "--checkpoint", str(run_dir), "--greedy", "--seed", "1", "--out", str(tmp_path / name)]
        )
    out = capsys.readouterr().out
    assert "matrl on switch2_v0, iter_000002.safetensors, iteration 2" in out
    frames = iio.imread(tmp_path / "a.gif")
    assert frames.ndim == 4 and frames.shape[-1] in (3, 4) and len(frames) >= 2
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()  # greedy and seeded


def test_render_checkpoint_errors_are_one_line(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    for args, message in [
        (["--checkpoint", str(tmp_path / "empty")], f"no model checkpoints under {tmp_path / 'empty'}"),
        (["--checkpoint", str(run_dir), "--env", "checkers_v0"], "--env checkers_v0 is not allowed with"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(["render", *args, "--out", str(tmp_path / "x.gif")])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
    assert not (tmp_path / "x.gif").exists()
