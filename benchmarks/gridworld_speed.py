"""Throughput of the grid worlds: batched numpy cores at E = 1, 16, 64, 256 and the PettingZoo ParallelEnv.

Single-threaded, random actions generated before timing, auto-reset included. Prints a table and writes
docs/benchmarks/gridworld_speed.md. Run: ``.venv/bin/python benchmarks/gridworld_speed.py`` (about 30 s).
"""

from __future__ import annotations

import os

from machine import describe_machine

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from matrl.envs import GRID_ENV_IDS, make_env, make_vector_env  # noqa: E402

NUM_ENVS = (1, 16, 64, 256)
N_ACTION_BATCHES = 1024
ROOT = Path(__file__).resolve().parents[1]


def _rate(run_block: Callable[[], int], seconds: float, repeats: int) -> float:
    """Median steps/s over ``repeats`` timed windows of about ``seconds`` each (after one warm-up block)."""
    run_block()
    rates = []
    for _ in range(repeats):
        steps = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            steps += run_block()
        rates.append(steps / elapsed)
    return statistics.median(rates)


def bench_core(env_id: str, num_envs: int, seconds: float, repeats: int) -> tuple[float, int]:
    core = make_vector_env(env_id, num_envs)
    core.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, core.n_actions, size=(N_ACTION_BATCHES, num_envs, core.n_agents))

    def block() -> int:
        for k in range(N_ACTION_BATCHES):
            core.step(actions[k])
        return N_ACTION_BATCHES

    return _rate(block, seconds, repeats), core.n_agents


def bench_parallel(env_id: str, seconds: float, repeats: int) -> tuple[float, int]:
    env = make_env(env_id)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    agents = list(env.possible_agents)
    draws = rng.integers(0, 5, size=(N_ACTION_BATCHES, len(agents)))
    action_dicts = [{a: int(x) for a, x in zip(agents, row, strict=True)} for row in draws]

    def block() -> int:
        for actions in action_dicts:
            env.step(actions)
            if not env.agents:
                env.reset()
        return N_ACTION_BATCHES

    return _rate(block, seconds, repeats), len(agents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one timed window")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows per row (median reported)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "gridworld_speed.md")
    args = parser.parse_args()

    rows: list[tuple[str, str, int, float, float, float]] = []
    for env_id in GRID_ENV_IDS:
        for num_envs in NUM_ENVS:
            rate, n = bench_core(env_id, num_envs, args.seconds, args.repeats)
            rows.append((env_id, "batched core", num_envs, rate, rate * num_envs, rate * num_envs * n))
        rate, n = bench_parallel(env_id, args.seconds, args.repeats)
        rows.append((env_id, "ParallelEnv", 1, rate, rate, rate * n))

    header = "| env | implementation | E | step calls/s | env-steps/s | agent-steps/s |"
    lines = [header, "| --- | --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {e} | {impl} | {ne} | {c:,.0f} | {s:,.0f} | {a:,.0f} |" for e, impl, ne, c, s, a in rows]
    table = "\n".join(lines)
    print(table)

    command = "python benchmarks/gridworld_speed.py" + "".join(f" {a}" for a in sys.argv[1:])
    doc = (
        "# Grid-world speed\n\n"
        "Throughput of the batched numpy cores (`make_vector_env`) and of the PettingZoo `ParallelEnv`\n"
        "(`make_env`, one copy) for the ma-gym ports, single-threaded, uniformly random actions generated\n"
        "before timing, automatic resets included. A step call advances all E copies; env-steps/s counts\n"
        "single-copy transitions (E per call); agent-steps/s = env-steps/s x n_agents (2 for checkers and\n"
        f"switch2, 4 for switch4). Median of {args.repeats} windows of {args.seconds} s each.\n\n"
        f"{table}\n\n"
        f"- Machine: {describe_machine()}\n"
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}\n"
        f"- Command: `{command}` (from the repository root, in the project venv)\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(doc)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
