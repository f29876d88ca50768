"""Train every (env, algorithm, seed) of a study, resumably and in parallel, then report.

    python benchmarks/gridworld_results.py --envs checkers_v0 --jobs 2          # train what is missing
    python benchmarks/gridworld_results.py --report-only                        # tables and plots only
    python benchmarks/gridworld_results.py --envs hopper_3x1 --train-args "--env-workers 1"   # MuJoCo
    python benchmarks/gridworld_results.py --algos vdn qmix qtran --report-algos matrl il vdn qmix qtran \
        --report-suffix _baselines                                              # the baselines

Each run lives in ``OUT/ENV/ALGO/seed_S`` and is a normal `matrl train` run directory: a finished run is
skipped, an interrupted one continues with ``--resume`` (bit-identically), so this script can be killed and
restarted at will. ``--report`` writes the curves (PNG) and a Markdown table under ``docs/results``.
"""

from __future__ import annotations

import argparse
import csv
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from matrl.config import preset
from matrl.envs.registry import MUJOCO_ENV_IDS

ALGOS = ("matrl", "il", "il-pp", "matrl-nobr")


def run_status(run_dir: Path) -> str:
    """``done``, ``resume`` (has a checkpoint) or ``fresh``."""
    config_file = run_dir / "config.json"
    if not config_file.exists():
        return "fresh"
    from matrl.config import TrainConfig

    iterations = TrainConfig.load(config_file).iterations
    metrics = run_dir / "metrics.csv"
    if metrics.exists():
        with metrics.open() as f:
            rows = sum(1 for _ in csv.reader(f)) - 1
        if rows >= iterations and (run_dir / "checkpoints" / "state.pt").exists():
            return "done"
    return "resume" if (run_dir / "checkpoints" / "state.pt").exists() else "fresh"


def command(
    env: str,
    algo: str,
    seed: int,
    run_dir: Path,
    status: str,
    total_steps: int | None,
    train_args: tuple[str, ...] = (),
) -> list[str]:
    """The `matrl train` command line of one run (a resumed run replays its saved config)."""
    exe = [sys.executable, "-m", "matrl.cli", "train", "--out", str(run_dir), "--no-progress"]
    if status == "resume":
        return [*exe, "--resume"]
    args = [*exe, "--env", env, "--algo", algo, "--seed", str(seed)]
    if total_steps is not None:
        args += ["--total-steps", str(total_steps)]
    return [*args, *train_args]


def train_all(
    envs: list[str],
    algos: list[str],
    seeds: list[int],
    out: Path,
    jobs: int,
    total_steps: int | None,
    train_args: tuple[str, ...] = (),
) -> None:
    """Run every missing run, ``jobs`` at a time (one torch thread each)."""
    queue = []
    for env in envs:
        for seed in seeds:
            for algo in algos:
                run_dir = out / env / algo / f"seed_{seed}"
                status = run_status(run_dir)
                if status == "done":
                    continue
                if status == "fresh" and run_dir.exists():
                    shutil.rmtree(run_dir)
                queue.append((env, algo, seed, run_dir, status))
    print(f"{len(queue)} runs to train", flush=True)
    running: list[tuple[subprocess.Popen[bytes], str, float]] = []
    while queue or running:
        while queue and len(running) < jobs:
            env, algo, seed, run_dir, status = queue.pop(0)
            run_dir.parent.mkdir(parents=True, exist_ok=True)
            log = (run_dir.parent / f"seed_{seed}.log").open("ab")
            proc = subprocess.Popen(
                command(env, algo, seed, run_dir, status, total_steps, train_args),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            running.append((proc, f"{env}/{algo}/seed_{seed} ({status})", time.perf_counter()))
        time.sleep(1.0)
        for item in list(running):
            proc, name, start = item
            if proc.poll() is not None:
                running.remove(item)
                state = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                print(f"{name}: {state} in {time.perf_counter() - start:.0f} s", flush=True)


def report(
    out: Path,
    docs: Path,
    envs: list[str],
    algos: list[str] | None = None,
    suffix: str = "",
    at_steps: tuple[int, ...] = (),
) -> None:
    """Curves and a summary table of every finished run under ``out`` (of ``algos`` only, if given), written
    to ``docs/ENV{suffix}.png`` and ``.md``."""
    from matrl.eval.curves import MovingAverage, find_runs, format_markdown, plot_curves, summary_table

    docs.mkdir(parents=True, exist_ok=True)
    for env in envs:
        if not (out / env).exists():
            continue
        # Only finished runs: a run still training would drag its algorithm's curve and table down.
        runs = [run for run in find_runs([out / env]) if run_status(run.path) == "done"]
        if algos is not None:
            runs = [run for run in runs if run.algo in algos]
        # MuJoCo agents share one team reward: report it once (return_0), as published MaMuJoCo results do.
        mujoco = env in MUJOCO_ENV_IDS
        metric, label = ("return_0", "team return") if mujoco else ("total_return", "total return")
        plot_curves(
            runs,
            docs / f"{env}{suffix}.png",
            metric=metric,
            smooth=MovingAverage(5),
            title=f"{env}: {label} (mean and std over seeds)",
        )
        budget = preset(env).total_steps
        rows = summary_table(runs, metric=metric, at_steps=None)
        table = format_markdown(rows)
        for steps in at_steps:
            table += "\n\n" + format_markdown(summary_table(runs, metric=metric, at_steps=steps))
        (docs / f"{env}{suffix}.md").write_text(
            f"Final {label} (mean of the last 10% of iterations; budget {budget} env steps):\n\n{table}\n"
        )
        print(table)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--envs", nargs="+", default=["checkers_v0", "switch4_v0"])
    parser.add_argument("--algos", nargs="+", default=list(ALGOS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/results"))
    parser.add_argument("--docs", type=Path, default=Path("docs/results"))
    parser.add_argument("--total-steps", type=int, default=None, help="override the presets' budgets")
    parser.add_argument("--train-args", default="", help="extra `matrl train` flags for fresh runs")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--report-algos", nargs="+", default=None, help="report only these (default: all)")
    parser.add_argument("--report-suffix", default="", help="file-name suffix of the report, e.g. _baselines")
    parser.add_argument(
        "--report-at", nargs="*", type=int, default=[], help="also tabulate at these env steps"
    )
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    if not args.report_only:
        train_all(
            args.envs,
            args.algos,
            args.seeds,
            args.out,
            args.jobs,
            args.total_steps,
            tuple(shlex.split(args.train_args)),
        )
    if not args.no_report:
        report(args.out, args.docs, args.envs, args.report_algos, args.report_suffix, tuple(args.report_at))


if __name__ == "__main__":
    main()
