"""What the trust stable region costs: seconds per iteration of MATRL's variants and its controls.

Every algorithm of the trust-stable-region study (docs/studies/trust_stable_region.json) is built on the same
env preset and timed round-robin (each round runs one iteration of every algorithm in turn). The time taken is
the process's CPU time with one torch thread, so other load on the machine counts for none of them. Prints a
Markdown table (median CPU seconds per iteration, ratio to IL-PP and to IL, gradient steps and env steps per
iteration) and writes docs/benchmarks/tsr_cost.md.

    .venv/bin/python benchmarks/tsr_cost.py [--env checkers_v0] [--rounds 8] [--note TEXT]
        [--out FILE | --no-write]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import time
from pathlib import Path

import torch

from machine import provenance
from matrl.algorithm import MATRL
from matrl.config import TrainConfig, preset
from matrl.fileio import write_text_atomically
from matrl.rollout import LocalCollector
from matrl.sweep import apply_train_args

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "studies" / "trust_stable_region.json"


def _config(env: str, flags: list[str]) -> TrainConfig:
    """The env's preset with a study algo's `matrl train` flags (``--algo X`` picks the preset's algo)."""
    algo = flags[flags.index("--algo") + 1]
    rest = [f for i, f in enumerate(flags) if f != "--algo" and (i == 0 or flags[i - 1] != "--algo")]
    return apply_train_args(preset(env, algo), rest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="checkers_v0")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "tsr_cost.md")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    torch.set_num_threads(1)
    algos = json.loads(SPEC.read_text())["algos"]
    learners = {}
    for label, flags in algos.items():
        flags = [("0.2" if f.startswith("from:") else f) for f in flags]  # the placebo's rate: any
        config = _config(args.env, flags)
        learners[label] = MATRL(config, LocalCollector(config.env, config.num_envs, **config.env_kwargs))
    seconds: dict[str, list[float]] = {label: [] for label in learners}
    steps: dict[str, float] = {}
    for round_ in range(args.rounds + 1):
        for label, learner in learners.items():
            before = learner.env_steps
            tick = time.process_time()  # this process's CPU time: other load on the machine does not count
            metrics = learner.iteration().metrics
            if round_ > 0:  # the first round warms up
                seconds[label].append(time.process_time() - tick)
            steps[label] = metrics.get("predict_steps", 0.0) + metrics.get("br_steps", 0.0)
            steps[f"{label}:env"] = learner.env_steps - before
    median = {label: statistics.median(v) for label, v in seconds.items()}
    rows = [
        "| algo | flags | CPU s / iteration (median) | / IL-PP | / IL | gradient steps / iteration "
        "| env steps / iteration |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, flags in algos.items():
        ratio_pp, ratio_il = median[label] / median["il-pp"], median[label] / median["il"]
        rows.append(
            f"| {label} | `{shlex.join(flags)}` | {median[label]:.3f} | {ratio_pp:.2f} | {ratio_il:.2f} "
            f"| {steps[label]:.1f} | {steps[label + ':env']:.0f} |"
        )
    table = "\n".join(rows)
    print(table)
    if not args.no_write:
        text = (
            f"# Cost of the trust stable region ({args.env})\n\n"
            f"{args.rounds} rounds, round-robin over the algorithms, one torch thread, CPU time of the\n"
            "process. Gradient steps are the agents' (predicted step + best response); `crossfit` also\n"
            "fits two half-batch predicted policies per iteration that only score the meta-game.\n\n"
            f"{table}\n\n" + provenance("benchmarks/tsr_cost.py", time.perf_counter() - start, args.note)
        )
        write_text_atomically(args.out, text)


if __name__ == "__main__":
    main()
