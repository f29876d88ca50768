"""Training speed with the paper presets: MATRL and its ablations, interleaved in one process.

For each environment (default checkers_v0) and torch thread count (default 1), builds one learner per
algorithm (matrl, il, il-pp, matrl-nobr) from ``preset(env)`` with seed 0 and `make_collector`, runs
one untimed warm-up iteration of each, then times ``--iterations`` iterations round-robin (iteration k of
every algorithm before iteration k + 1), so that machine noise hits all of them alike. Reports env steps/s,
seconds per iteration, each phase's share of the iteration time, MATRL's own share (meta-game + Nash +
mixture) and the wall-time ratios to IL for the same env steps. Prints Markdown tables and writes
docs/benchmarks/train_speed.md.

    .venv/bin/python benchmarks/train_speed.py [--envs checkers_v0 switch4_v0] [--iterations 20]
        [--threads 1 2] [--out FILE | --no-write]
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch

from machine import describe_machine
from matrl.algorithm import MATRL
from matrl.config import MATRL_ALGOS as ALGOS
from matrl.config import preset
from matrl.fileio import write_text_atomically
from matrl.training import make_collector

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("collect", "advantages", "predict", "metagame", "nash", "mixture", "best_response")
MATRL_PHASES = ("metagame", "nash", "mixture")
STEPS_TARGET = 5000.0  # MATRL env steps/s on Checkers
SHARE_TARGET = 0.05  # MATRL-specific share of the iteration time
PAPER_RATIO = (1.1, 1.2)  # the paper's MATRL / IL wall-time ratio (reference only)


@dataclass
class Timing:
    """One algorithm's timed iterations in one (env, threads) measurement."""

    env: str
    threads: int
    algo: str
    batch_size: int
    seconds: list[float] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    predict_steps: list[float] = field(default_factory=list)
    br_steps: list[float] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return sum(self.seconds)

    @property
    def steps_per_second(self) -> float:
        return self.batch_size * len(self.seconds) / self.wall

    def share(self, phase: str) -> float:
        """Fraction of the summed iteration time spent in ``phase`` (``other``: outside every phase)."""
        if phase == "other":
            return 1.0 - sum(self.phases.values()) / self.wall
        return self.phases.get(phase, 0.0) / self.wall

    @property
    def matrl_share(self) -> float:
        return sum(self.share(p) for p in MATRL_PHASES)


def measure(
    env: str, algos: list[str], iterations: int, threads: int, env_workers: int | None = None
) -> dict[str, Timing]:
    """Warm up and time every algorithm on ``env``, interleaved round-robin."""
    torch.set_num_threads(threads)
    learners: dict[str, MATRL] = {}
    timings: dict[str, Timing] = {}
    for algo in algos:
        config = dataclasses.replace(preset(env), algo=algo, seed=0, threads=threads)
        if env_workers is not None:
            config = dataclasses.replace(config, env_workers=env_workers)
        learners[algo] = MATRL(config, make_collector(config))
        timings[algo] = Timing(env, threads, algo, config.batch_size)
    for learner in learners.values():  # warm-up: allocator, caches, lazy imports (not timed)
        learner.iteration()
    for k in range(iterations):
        for algo, learner in learners.items():
            start = time.perf_counter()
            result = learner.iteration()
            seconds = time.perf_counter() - start
            timing = timings[algo]
            timing.seconds.append(seconds)
            for phase, value in result.phase_seconds.items():
                timing.phases[phase] = timing.phases.get(phase, 0.0) + value
            timing.predict_steps.append(result.metrics.get("predict_steps", float("nan")))
            timing.br_steps.append(result.metrics.get("br_steps", 0.0))
        print(f"  {env}, {threads} thread(s): iteration {k + 1}/{iterations} done", file=sys.stderr)
    return timings


def speed_table(timings: list[Timing]) -> str:
    lines = [
        "| env | threads | algo | env steps/s | s/iter (mean) | s/iter (median) | wall / IL "
        "| predict steps/iter | BR steps/iter |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in timings:
        il = _find(timings, t.env, t.threads, "il")
        ratio = f"{t.wall / il.wall:.2f}" if il is not None else "-"
        lines.append(
            f"| {t.env} | {t.threads} | {t.algo} | {t.steps_per_second:,.0f} "
            f"| {statistics.fmean(t.seconds):.3f} | {statistics.median(t.seconds):.3f} | {ratio} "
            f"| {statistics.fmean(t.predict_steps):.1f} | {statistics.fmean(t.br_steps):.1f} |"
        )
    return "\n".join(lines)


def phase_table(timings: list[Timing]) -> str:
    names = (*PHASES, "other")
    lines = [
        "| env | threads | algo | " + " | ".join(names) + " | MATRL-specific |",
        "| --- | ---: | --- |" + " ---: |" * (len(names) + 1),
    ]
    for t in timings:
        cells = [f"{100 * t.share(p):.1f}%" if p in t.phases or p == "other" else "-" for p in names]
        own = f"{100 * t.matrl_share:.2f}%" if any(p in t.phases for p in MATRL_PHASES) else "-"
        lines.append(f"| {t.env} | {t.threads} | {t.algo} | " + " | ".join(cells) + f" | {own} |")
    return "\n".join(lines)


def targets(timings: list[Timing]) -> list[str]:
    """PASS/MISS lines for the speed targets, and the paper's ratio for reference."""
    out = []
    for t in timings:
        if t.algo != "matrl":
            continue
        where = f"{t.env}, {t.threads} thread(s)"
        if t.env == "checkers_v0":
            verdict = _verdict(t.steps_per_second >= STEPS_TARGET)
            out.append(
                f"{verdict} MATRL >= {STEPS_TARGET:,.0f} env steps/s ({where}): {t.steps_per_second:,.0f}"
            )
        verdict = _verdict(t.matrl_share < SHARE_TARGET)
        out.append(
            f"{verdict} MATRL-specific share (meta-game + Nash + mixture) < {100 * SHARE_TARGET:.0f}% "
            f"({where}): {100 * t.matrl_share:.2f}%"
        )
        il = _find(timings, t.env, t.threads, "il")
        if il is not None:
            ratio = t.wall / il.wall
            inside = "inside" if PAPER_RATIO[0] <= ratio <= PAPER_RATIO[1] else "outside"
            out.append(
                f"info MATRL / IL wall time ({where}): {ratio:.2f}, {inside} the paper's "
                f"{PAPER_RATIO[0]}-{PAPER_RATIO[1]} (report only)"
            )
    return out


def describe_preset(env: str, env_workers: int | None = None) -> str:
    """One Markdown bullet with the preset settings that set the cost of an iteration."""
    c = preset(env)
    workers = c.env_workers if env_workers is None else env_workers
    where = "in process" if workers == 1 else f"{workers} env worker processes"
    return (
        f"- `{env}`: batch {c.batch_size} = {c.num_envs} envs x {c.steps_per_env} steps ({where}), "
        f"PPO {c.ppo.update_iters} iters, BR {c.meta.br_iters} iters, hidden {c.hidden}, "
        f"Nash `{c.meta.nash_method}`, mixture `{c.meta.mixture}`\n"
    )


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _find(timings: list[Timing], env: str, threads: int, algo: str) -> Timing | None:
    return next((t for t in timings if (t.env, t.threads, t.algo) == (env, threads, algo)), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["checkers_v0"], help="environments (paper presets)")
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=ALGOS, help="algorithms to time")
    parser.add_argument("--iterations", type=int, default=20, help="timed iterations per algorithm")
    parser.add_argument(
        "--threads", nargs="+", type=int, default=[1], help="torch CPU thread counts (one measurement each)"
    )
    parser.add_argument(
        "--env-workers", type=int, default=None, help="env worker processes (MuJoCo; default: the preset's)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "train_speed.md")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write --out")
    args = parser.parse_args()
    if args.iterations < 1 or min(args.threads) < 1:
        parser.error("--iterations and --threads must be >= 1")

    start = time.perf_counter()
    timings: list[Timing] = []
    for env in args.envs:
        for threads in args.threads:
            timings += measure(env, args.algos, args.iterations, threads, args.env_workers).values()
    total = time.perf_counter() - start

    speed, phases, checks = speed_table(timings), phase_table(timings), targets(timings)
    print(speed, phases, "\n".join(checks), sep="\n\n")
    print(f"\n{total:.0f} s in all")
    if args.no_write:
        return

    presets = "".join(describe_preset(env, args.env_workers) for env in args.envs)
    command = shlex.join(["python", "benchmarks/train_speed.py", *sys.argv[1:]])
    doc = (
        "# Training speed\n\n"
        "Wall time of `MATRL.iteration()` with the paper presets (`preset(env)`, seed 0, the collector\n"
        "of `make_collector`), for MATRL and its ablations on the same code path. One process: every\n"
        "algorithm runs one untimed warm-up iteration, then the timed iterations run round-robin\n"
        "(iteration k of each algorithm before iteration k + 1) so that machine noise falls on all alike.\n"
        "env steps/s = batch size x iterations / summed iteration wall time; wall / IL compares the same\n"
        "env steps. The phase shares are each phase's summed time over the summed iteration time\n"
        "(`other`: bookkeeping outside the phases); MATRL-specific = meta-game + Nash + mixture. Predict\n"
        "and BR steps are the gradient steps per iteration, averaged over agents (the predicted step stops\n"
        f"early at `target_kl`, so the work per iteration varies). Presets:\n\n{presets}\n"
        f"## Speed ({args.iterations} timed iteration(s) per algorithm)\n\n{speed}\n\n"
        f"## Share of the iteration time per phase\n\n{phases}\n\n"
        "## Targets\n\n" + "".join(f"- {line}\n" for line in checks) + "\n"
        f"- Machine: {describe_machine()}\n"
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; torch {torch.__version__}; "
        f"{total:.0f} s in all\n"
        f"- Command: `{command}` (from the repository root, in the project venv)\n"
    )
    write_text_atomically(args.out, doc)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
