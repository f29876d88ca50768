"""Collection speed of a third-party PettingZoo env with 1 and 2 env worker processes (``--env-workers``).

On ``pettingzoo:mpe2.simple_spread_v3`` (3 agents, 25-step episodes), E = 8 and 16 copies, in one run:
(a) raw stepping of the batched core (`matrl.envs.make_vector_env`, the PettingZoo adapter in this process or
`SubprocessVectorCore` over 2 workers), uniform actions generated before timing, auto-resets included;
(b) collection as training does it: ``MATRL.collect()`` with the preset's policy network (one thread),
``steps_per_env`` batched policy calls and env steps. Rows are interleaved (1 worker, 2 workers, 1, 2, ...)
so that background load hits both alike; the median of ``--repeats`` timed runs is reported. The load
average before and after is printed (a loaded machine makes the numbers noisy). Prints a Markdown table
and writes docs/benchmarks/pettingzoo_speed.md.

    .venv/bin/python benchmarks/pettingzoo_speed.py [--steps 4000] [--repeats 3] [--note TEXT]
        [--out FILE | --no-write]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from machine import provenance
from matrl.algorithm import MATRL
from matrl.config import TrainConfig
from matrl.envs import make_vector_env
from matrl.fileio import write_text_atomically
from matrl.training import make_collector

ROOT = Path(__file__).resolve().parents[1]
ENV = "pettingzoo:mpe2.simple_spread_v3"
NUM_ENVS = (8, 16)
WORKERS = (1, 2)


def _load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def raw_runner(num_envs: int, workers: int, steps: int) -> tuple[Any, Any]:
    """A core and a function that steps it about ``steps`` env steps (returns the env steps taken)."""
    core: Any = make_vector_env(ENV, num_envs, num_workers=workers, seed=0)
    calls = max(1, steps // num_envs)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, core.n_actions, size=(calls, num_envs, core.n_agents))
    core.reset()

    def run() -> int:
        for a in actions:
            core.step(a)
        return calls * num_envs

    return core, run


def collect_runner(num_envs: int, workers: int, steps: int) -> tuple[Any, Any]:
    """A MATRL learner and a function that runs its ``collect()`` (returns the env steps collected)."""
    steps_per_env = max(1, steps // num_envs)
    config = dataclasses.replace(
        TrainConfig(env=ENV),
        num_envs=num_envs,
        batch_size=steps_per_env * num_envs,
        env_workers=workers,
        threads=1,
        seed=0,
    )
    learner = MATRL(config, make_collector(config))

    def run() -> int:
        learner.collect()
        return config.batch_size

    return learner.collector, run


def measure(steps: int, repeats: int) -> list[tuple[str, int, int, float]]:
    """(kind, E, workers, median env steps/s) for every row, timed runs interleaved over the workers."""
    rows = []
    for kind, make in (("raw stepping", raw_runner), ("MATRL.collect()", collect_runner)):
        for num_envs in NUM_ENVS:
            built = {w: make(num_envs, w, steps) for w in WORKERS}
            rates: dict[int, list[float]] = {w: [] for w in WORKERS}
            for w in WORKERS:
                built[w][1]()  # warm-up: the workers' first steps, lazy imports
            for _ in range(repeats):
                for w in WORKERS:
                    start = time.perf_counter()
                    taken = built[w][1]()
                    rates[w].append(taken / (time.perf_counter() - start))
            for w in WORKERS:
                built[w][0].close()
                rows.append((kind, num_envs, w, statistics.median(rates[w])))
            print(f"{kind}, E={num_envs}: done", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000, help="env steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (median reported)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "pettingzoo_speed.md")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write --out")
    parser.add_argument("--note", default="", help="a line about the conditions, added to the results file")
    args = parser.parse_args()
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be >= 1")
    torch.set_num_threads(1)
    load_before = _load()
    start = time.perf_counter()
    rows = measure(args.steps, args.repeats)
    total = time.perf_counter() - start
    load_after = _load()
    base = {(kind, e): rate for kind, e, w, rate in rows if w == 1}
    lines = [
        "| measured | E | env worker processes | env-steps/s | x 1 process |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind, num_envs, workers, rate in rows:
        shown = "- (in process)" if workers == 1 else str(workers)
        lines.append(f"| {kind} | {num_envs} | {shown} | {rate:,.0f} | {rate / base[kind, num_envs]:.2f} |")
    table = "\n".join(lines)
    print(table)
    print(f"load average (1, 5, 15 min): {load_before} before, {load_after} after")
    if args.no_write:
        return
    text = (
        "# PettingZoo env worker processes: collection speed\n\n"
        f"`{ENV}` (3 agents, 25-step episodes) with `--env-workers` 1 and 2, measured in one run\n"
        "(timed runs interleaved). Raw stepping: the batched core with uniform actions generated before\n"
        "timing. `MATRL.collect()`: one batch as training collects it (policy network on one thread,\n"
        "one batched policy call per step). env-steps/s counts single-copy transitions; auto-resets\n"
        f"included. Median of {args.repeats} timed runs of about {args.steps} env steps each, after one\n"
        "untimed run.\n\n"
        f"{table}\n\n"
        f"- Load average (1, 5, 15 min): {load_before} before, {load_after} after, "
        f"on {os.cpu_count()} CPUs:\n"
        "  when it exceeds the CPUs, no core is free for the workers to step in parallel, and the figures\n"
        "  say what processes cost on a busy machine, not what they gain on an idle one\n"
        + provenance("benchmarks/pettingzoo_speed.py", total, args.note)
    )
    path = write_text_atomically(args.out, text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
