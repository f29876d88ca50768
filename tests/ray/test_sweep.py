"""`matrl sweep`: a grid of runs as Ray Tune trials that skips finished runs, resumes interrupted ones
(bit-identically), survives a failing run, and writes a summary table; bad input fails in one line."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from matrl.cli import main
from matrl.eval.curves import load_run, summary_table
from matrl.sweep import RunPlan, expand_grid, parse_seeds, run_status, sweep
from matrl.training import train

pytestmark = pytest.mark.xdist_group("ray")

#: 4 iterations of 64 steps on the matrix game, a checkpoint every 2.
STEPS = 256
TRAIN_ARGS = ("--batch-size", "64", "--hidden", "16", "--checkpoint-every", "2")
GRID = {"envs": "matrix_v0", "algos": "matrl,il", "steps": STEPS, "train_args": TRAIN_ARGS}
#: metrics.csv columns that measure time, not learning.
TIMING = ("steps_per_second", "time_")


def _plans(out: Path) -> dict[str, RunPlan]:
    plans = expand_grid(["matrix_v0"], ["matrl", "il"], [0, 1], out, STEPS, TRAIN_ARGS)
    return {plan.key: plan for plan in plans}


def _files(run_dir: Path) -> dict[str, tuple[int, bytes]]:
    """(mtime, bytes) of every file of a run directory."""
    return {
        str(p.relative_to(run_dir)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(run_dir.rglob("*"))
        if p.is_file()
    }


def _learning(metrics: Path) -> list[dict[str, str]]:
    """metrics.csv rows without the timing columns (those differ between any two runs)."""
    rows = list(csv.DictReader(metrics.open()))
    return [{k: v for k, v in row.items() if not k.startswith(TIMING)} for row in rows]


@pytest.fixture(scope="module")
def swept(ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A 2 algorithms x 2 seeds sweep over prepared run directories: matrl/seed_0 finished, matrl/seed_1
    interrupted after iteration 3 (checkpoint at 2), il/seed_0 absent, il/seed_1 with a corrupt state."""
    root = tmp_path_factory.mktemp("sweep")
    out = root / "sweep"
    plans = _plans(out)
    finished, half, broken = (
        plans[f"matrix_v0/{key}"] for key in ("matrl/seed_0", "matrl/seed_1", "il/seed_1")
    )
    train(finished.config, finished.run_dir, progress=False)
    train(half.config, half.run_dir, progress=False, stop_after=3, tensorboard=False)
    train(half.config, root / "reference", progress=False, tensorboard=False)
    train(broken.config, broken.run_dir, progress=False, stop_after=2, tensorboard=False)
    (broken.run_dir / "checkpoints" / "state.pt").write_bytes(b"not a checkpoint")
    before = {
        "statuses": {key: run_status(plan.run_dir) for key, plan in plans.items()},
        "finished_files": _files(finished.run_dir),
        "half_lines": (half.run_dir / "metrics.csv").read_text().splitlines(),
    }
    rows = sweep(seeds="0-1", out=out, verbose=0, **GRID)
    yield {"root": root, "out": out, "plans": plans, "rows": rows, "before": before}


def test_statuses_before_the_sweep(swept: dict[str, Any]) -> None:
    assert swept["before"]["statuses"] == {
        "matrix_v0/matrl/seed_0": "finished",
        "matrix_v0/matrl/seed_1": "interrupted",
        "matrix_v0/il/seed_0": "fresh",
        "matrix_v0/il/seed_1": "interrupted",
    }


def test_finished_run_is_left_untouched(swept: dict[str, Any]) -> None:
    run_dir = swept["plans"]["matrix_v0/matrl/seed_0"].run_dir
    assert _files(run_dir) == swept["before"]["finished_files"]


def test_interrupted_run_resumes_bit_identically(swept: dict[str, Any]) -> None:
    run_dir = swept["plans"]["matrix_v0/matrl/seed_1"].run_dir
    assert run_status(run_dir) == "finished"
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    # The checkpointed iterations' rows are kept as they were; iteration 3 was redone from the checkpoint.
    assert lines[:3] == swept["before"]["half_lines"][:3]
    assert len(lines) == 1 + 4
    assert _learning(run_dir / "metrics.csv") == _learning(swept["root"] / "reference" / "metrics.csv")
    assert (run_dir / "tb").is_dir()


def test_fresh_run_trains_and_a_failing_run_spares_the_others(swept: dict[str, Any]) -> None:
    plans = swept["plans"]
    assert run_status(plans["matrix_v0/il/seed_0"].run_dir) == "finished"
    assert run_status(plans["matrix_v0/il/seed_1"].run_dir) == "interrupted"


def test_summary_csv(swept: dict[str, Any]) -> None:
    text = (swept["out"] / "summary.csv").read_text()
    rows = {row["algo"]: row for row in csv.DictReader(io.StringIO(text))}
    assert set(rows) == {"matrl", "il"}
    matrl, il = rows["matrl"], rows["il"]
    assert (matrl["env"], matrl["seeds"], matrl["finished"], matrl["errors"]) == ("matrix_v0", "0 1", "2", "")
    assert matrl["env_steps"] == il["env_steps"] == str(STEPS)
    runs = [load_run(swept["plans"][f"matrix_v0/matrl/seed_{s}"].run_dir) for s in (0, 1)]
    expected = summary_table(runs)[0]
    assert float(matrl["return_mean"]) == pytest.approx(expected["mean"], rel=1e-5)
    assert float(matrl["return_std"]) == pytest.approx(expected["std"], rel=1e-5, abs=1e-9)
    assert float(matrl["wall_s"]) > 0
    assert il["finished"] == "1"
    assert il["errors"].startswith("seed 1: ValueError: checkpoint ")
    assert "corrupt" in il["errors"] and "\n" not in il["errors"]
    assert [(r.algo, r.finished) for r in swept["rows"]] == [("matrl", 2), ("il", 1)]


def test_plot_draws_the_sweep_directory(swept: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    png = swept["root"] / "curves.png"
    main(["plot", str(swept["out"]), "--out", str(png)])
    assert png.stat().st_size > 0
    out = capsys.readouterr().out
    assert "| matrix_v0 | matrl | 2 |" in out and "wrote" in out


def test_sweep_again_runs_nothing_that_is_finished(swept: dict[str, Any]) -> None:
    """Seed 0 of both algorithms is finished: no trial starts (no new Tune experiment), nothing changes."""
    plans, tune_dir = swept["plans"], swept["out"] / ".tune"
    experiments = sorted(tune_dir.iterdir())
    before = {key: _files(plans[f"matrix_v0/{key}"].run_dir) for key in ("matrl/seed_0", "il/seed_0")}
    rows = sweep(seeds="0", out=swept["out"], verbose=0, **GRID)
    assert sorted(tune_dir.iterdir()) == experiments
    assert before == {key: _files(plans[f"matrix_v0/{key}"].run_dir) for key in before}
    assert [(r.algo, r.seeds, r.finished, r.errors) for r in rows] == [
        ("matrl", (0,), 1, ()),
        ("il", (0,), 1, ()),
    ]


def test_other_settings_in_a_run_directory_are_reported_not_overwritten(swept: dict[str, Any]) -> None:
    run_dir = swept["plans"]["matrix_v0/matrl/seed_0"].run_dir
    files = _files(run_dir)
    rows = sweep(
        envs="matrix_v0",
        algos="matrl",
        seeds="0",
        steps=2 * STEPS,
        out=swept["out"],
        train_args=TRAIN_ARGS,
        verbose=0,
    )
    assert rows[0].finished == 0
    assert "other settings (total_steps)" in rows[0].errors[0]
    assert _files(run_dir) == files


def test_seed_ranges() -> None:
    assert parse_seeds("0-9") == tuple(range(10))
    assert parse_seeds("0,2,5") == (0, 2, 5)
    assert parse_seeds("3") == (3,)
    assert parse_seeds("4, 0-2, 2") == (0, 1, 2, 4)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--envs", "chekers_v0"], ["'chekers_v0'", "checkers_v0", "switch4_v0"]),
        (["--algos", "matrl,ppo"], ["'ppo'", "il-pp", "matrl-nobr"]),
        (["--seeds", "5-2"], ["'5-2'", "LOW <= HIGH"]),
        (["--seeds", "a,b"], ["'a'", "0-9"]),
        (["--steps", "0"], ["--steps=0", ">= 1"]),
        (["--cpus-per-run", "0"], ["--cpus-per-run=0", "> 0"]),
        (["--train-args", "--seed 3"], ["--seed", "--seeds"]),
        (["--train-args", "--batch-size 7", "--envs", "matrix_v0"], ["batch_size=7", "num_envs=8"]),
    ],
)
def test_bad_input_is_a_one_line_error(
    args: list[str], named: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", *args, "--out", str(tmp_path / "sweep")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert all(text in err for text in named), err
    assert not (tmp_path / "sweep").exists()


def test_missing_ray_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes ``import ray`` (and ``ray.tune``) raise ImportError
    with pytest.raises(ImportError, match=r'^matrl sweep needs Ray: pip install "matrl\[ray\]"$'):
        sweep(envs="matrix_v0", seeds="0", out=tmp_path / "sweep")
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--envs", "matrix_v0", "--seeds", "0", "--out", str(tmp_path / "sweep")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == 'matrl: error: matrl sweep needs Ray: pip install "matrl[ray]"'
    assert not (tmp_path / "sweep").exists()
