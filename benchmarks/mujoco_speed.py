"""Raw stepping speed of multi-agent MuJoCo: the library's ParallelEnv, MaMuJoCoCore, and 2 worker processes.

For Hopper 3x1 and Ant 4x2: (a) gymnasium-robotics' ``mamujoco_v1.parallel_env`` stepped with action dicts,
one env; (b) :class:`matrl.envs.mamujoco.MaMuJoCoCore` in this process with E = 8 and 16 copies; (c)
:class:`matrl.envs.subprocess_core.SubprocessVectorCore` with 2 workers, E = 8 and 16. Actions are uniform
in the action box and generated before timing; auto-resets are included. Prints a Markdown table and writes
docs/benchmarks/mujoco_speed.md.

    .venv/bin/python benchmarks/mujoco_speed.py [--steps 4000] [--repeats 3] [--note TEXT]
        [--out FILE | --no-write]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from machine import provenance
from matrl.envs import make_vector_env
from matrl.fileio import write_text_atomically

ROOT = Path(__file__).resolve().parents[1]
ENVS = {"hopper_3x1": ("Hopper", "3x1"), "ant_4x2": ("Ant", "4x2")}
NUM_ENVS = (8, 16)
WORKERS = 2


def _rate(run: Callable[[], int], repeats: int) -> float:
    """Median env steps/s of ``repeats`` timed calls of ``run`` (which returns the env steps it took)."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        steps = run()
        rates.append(steps / (time.perf_counter() - start))
    return statistics.median(rates)


def bench_library(env_id: str, steps: int, repeats: int) -> float:
    """The library env, one copy, dict in and dict out."""
    from gymnasium_robotics import mamujoco_v1

    env = mamujoco_v1.parallel_env(*ENVS[env_id])
    agents = list(env.possible_agents)
    rng = np.random.default_rng(0)
    actions = [
        {a: rng.uniform(env.action_space(a).low, env.action_space(a).high).astype(np.float32) for a in agents}
        for _ in range(steps)
    ]
    env.reset(seed=0)

    def run() -> int:
        for act in actions:
            _, _, terminated, truncated, _ = env.step(act)
            if terminated[agents[0]] or truncated[agents[0]]:
                env.reset()
        return steps

    run()  # warm-up
    rate = _rate(run, repeats)
    env.close()
    return rate


def bench_core(env_id: str, num_envs: int, workers: int, steps: int, repeats: int) -> float:
    """A batched core (in this process, or sharded over ``workers`` processes); env steps = E per call."""
    core: Any = make_vector_env(env_id, num_envs, num_workers=workers)
    calls = max(1, steps // num_envs)
    spec = core.action_spec
    u = np.random.default_rng(0).uniform(size=(calls, num_envs, core.n_agents, core.n_actions))
    actions = (spec.low + (spec.high - spec.low) * u).astype(np.float32)
    core.reset(seed=0)

    def run() -> int:
        for a in actions:
            core.step(a)
        return calls * num_envs

    run()  # warm-up (and the workers' first steps)
    rate = _rate(run, repeats)
    core.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000, help="env steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (median reported)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "mujoco_speed.md")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write --out")
    parser.add_argument("--note", default="", help="a line about the conditions, added to the results file")
    args = parser.parse_args()
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be >= 1")

    start = time.perf_counter()
    rows: list[tuple[str, str, int, int, float, float]] = []
    for env_id in ENVS:
        n_agents = make_vector_env(env_id, 1).n_agents
        base = bench_library(env_id, args.steps, args.repeats)
        rows.append((env_id, "library `parallel_env` (dict loop)", 1, 0, base, 1.0))
        for workers in (1, WORKERS):
            for num_envs in NUM_ENVS:
                rate = bench_core(env_id, num_envs, workers, args.steps, args.repeats)
                name = "`MaMuJoCoCore`" if workers == 1 else "`SubprocessVectorCore`"
                rows.append((env_id, name, num_envs, workers if workers > 1 else 0, rate, rate / base))
        print(f"{env_id}: done ({n_agents} agents)", flush=True)
    total = time.perf_counter() - start

    lines = [
        "| env | implementation | E | worker processes | env-steps/s | x library |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for env_id, name, num_envs, workers, rate, ratio in rows:
        shown = str(workers) if workers else "- (in process)"
        lines.append(f"| {env_id} | {name} | {num_envs} | {shown} | {rate:,.0f} | {ratio:.2f} |")
    table = "\n".join(lines)
    print(table)
    print(f"\n{total:.0f} s in all")
    if args.no_write:
        return

    doc = (
        "# Multi-agent MuJoCo speed\n\n"
        "Raw stepping speed, no policy: env-steps/s counts single-copy transitions (a batched step\n"
        "call advances E copies). Actions are uniform in each agent's box and generated before timing;\n"
        "automatic resets are included (random Hopper episodes fall over within tens of steps, so resets\n"
        "are frequent). The library row steps gymnasium-robotics' `mamujoco_v1.parallel_env` with action\n"
        "dicts, which rebuilds every agent's local observation each step; `MaMuJoCoCore` (the registered\n"
        "ids' defaults: global observations) steps each copy's single-agent gymnasium env directly;\n"
        f"`SubprocessVectorCore` shards the copies over {WORKERS} worker processes (pickled numpy arrays\n"
        f"over pipes, one round trip per step call). Median of {args.repeats} timed runs of about\n"
        f"{args.steps} env steps each, after one untimed run.\n\n"
        f"{table}\n\n" + provenance("benchmarks/mujoco_speed.py", total, args.note)
    )
    write_text_atomically(args.out, doc)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
