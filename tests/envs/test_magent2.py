"""MAgent2 through ``pettingzoo:magent2...`` ids (``pip install "matrl[magent]"``): a 12-agent battle whose
agents observe 13 x 13 x 5 grid views and die, trained by MATRL with the sample-form meta-game."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

pytest.importorskip("magent2")

from matrl.cli import main
from matrl.envs import make_vector_env

BATTLE = "pettingzoo:magent2.environments.battle_v4"
KWARGS = '{"map_size": 16, "max_cycles": 20}'


def test_battle_views_are_flattened_for_twelve_agents() -> None:
    core = make_vector_env(BATTLE, 2, map_size=16, max_cycles=20, seed=0)
    try:
        assert (core.n_agents, core.obs_dim, core.n_actions) == (12, 13 * 13 * 5, 21)
        assert core.reset().shape == (2, 12, 845)
    finally:
        core.close()


def test_matrl_trains_evaluates_and_resumes_a_twelve_agent_battle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    sizes = ["--batch-size", "80", "--num-envs", "4", "--hidden", "16", "--checkpoint-every", "1"]
    args = ["--env", BATTLE, "--env-kwargs", KWARGS, *sizes, "--no-progress"]
    main(["train", *args, "--algo", "matrl", "--total-steps", "160", "--out", str(run)])
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {f"rho_{i}" for i in range(12)} <= set(rows[0])
    assert not any(key.startswith("g0_") for key in rows[0])  # 12 agents: the sample form, no 2^n table
    assert all(float(row["nash_conv"]) >= 0 for row in rows)
    main(["evaluate", str(run), "--episodes", "2", "--random-agents", *map(str, range(6, 12))])
    assert "agent_11 (random)" in capsys.readouterr().out
    main(["train", "--out", str(run), "--resume", "--total-steps", "240", "--no-progress"])
    assert "note: resumed with fresh episodes" in capsys.readouterr().err
