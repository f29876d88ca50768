"""MPE through ``pettingzoo:mpe2...`` ids (``pip install "matrl[mpe]"``): short train / evaluate / resume
runs on simple_spread (discrete and continuous) and simple_adversary (agents of two kinds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpe2")

from matrl.cli import main
from matrl.config import TrainConfig
from matrl.envs import make_vector_env

SIZES = [
    "--batch-size",
    "100",
    "--num-envs",
    "4",
    "--hidden",
    "16",
    "--checkpoint-every",
    "1",
    "--no-progress",
]


def _train_evaluate_resume(env: str, kwargs: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    run = tmp_path / "run"
    main(["train", "--env", env, "--env-kwargs", kwargs, *SIZES, "--total-steps", "200", "--out", str(run)])
    main(["evaluate", str(run), "--episodes", "2"])
    out = capsys.readouterr().out
    assert f"({env}, iteration 2, 200 env steps): 2 episodes" in out
    main(["train", "--out", str(run), "--resume", "--total-steps", "300", "--no-progress"])
    assert "note: resumed with fresh episodes" in capsys.readouterr().err
    assert TrainConfig.load(run / "config.json").total_steps == 300
    assert len((run / "metrics.csv").read_text().splitlines()) == 1 + 3
    return out


def test_simple_spread_discrete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    core = make_vector_env("pettingzoo:mpe2.simple_spread_v3", 2, N=3, max_cycles=25)
    assert (core.n_agents, core.obs_dim, core.n_actions, core.action_spec.counts) == (3, 18, 5, ())
    _train_evaluate_resume("pettingzoo:mpe2.simple_spread_v3", '{"max_cycles": 25}', tmp_path, capsys)


def test_simple_adversary_has_agents_of_two_kinds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    core = make_vector_env("pettingzoo:mpe2.simple_adversary_v3", 2, one_hot_agent_id=True)
    assert core.agent_ids == ("adversary_0", "agent_0", "agent_1")
    obs = core.reset()
    assert obs.shape == (2, 3, 10 + 3)
    assert (obs[:, 0, 8:10] == 0).all()  # the adversary's 8 values, zero-padded to the agents' 10
    np.testing.assert_array_equal(obs[0, :, 10:], np.eye(3))
    _train_evaluate_resume(
        "pettingzoo:mpe2.simple_adversary_v3", '{"one_hot_agent_id": true}', tmp_path, capsys
    )


def test_simple_speaker_listener_masks_the_speakers_missing_actions() -> None:
    core = make_vector_env("pettingzoo:mpe2.simple_speaker_listener_v4", 2)
    assert core.action_spec.counts == (3, 5) and core.obs_dim == 11


def test_simple_spread_continuous(tmp_path: Path) -> None:
    env = "pettingzoo:mpe2.simple_spread_v3"
    core = make_vector_env(env, 2, continuous_actions=True)
    assert core.action_spec.continuous and core.action_spec.dim == 5 and core.action_spec.mask.all()
    run = tmp_path / "run"
    main(
        [
            "train",
            "--env",
            env,
            "--env-kwargs",
            '{"continuous_actions": true}',
            *SIZES,
            "--total-steps",
            "100",
            "--out",
            str(run),
        ]
    )
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 1 and "br_entropy" in rows[0]
