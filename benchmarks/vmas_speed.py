"""VMAS simple_spread on one core: raw batched stepping, matrl's VmasCore on top of it, and IL training.

Three measurements, all with ``torch.set_num_threads(1)`` (training with ``--threads 1``):

1. **raw**: ``vmas.make_env("simple_spread", num_envs=E, continuous_actions=False)`` stepped with random
   discrete actions drawn beforehand as torch tensors, no resets (VMAS's own loop, the physical limit);
2. **core**: `matrl.envs.vmas_core.VmasCore` (``vmas:simple_spread``, 25-step episodes, auto-reset) stepped
   with numpy actions drawn beforehand: the raw step plus the numpy conversion and the envelope;
3. **reset**: the auto-reset of all E copies in one vectorised ``reset`` against ``reset_at`` per copy;
4. **train**: ``matrl train --env vmas:simple_spread --algo il`` at JaxMARL's IPPO learner settings
   (``--hidden 64 64 --ppo.update-iters 4 --ppo.minibatches 4 --batch-size 2048``) with ``--num-envs``
   copies; env steps/s from the run's metrics.csv (env steps over the summed iteration time, first iteration
   left out).

Env steps/s count joint steps of one copy (E copies stepped once = E env steps). Prints a Markdown table.

    .venv/bin/python benchmarks/vmas_speed.py [--envs 16 256 2048] [--seconds 5] [--train-steps 61440]
        [--train-envs 256] [--algos il] [--no-train]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from machine import describe_machine

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = "simple_spread"
JAXMARL_SETTINGS = (
    "--hidden 64 64 --ppo.update-iters 4 --ppo.minibatches 4 --batch-size 2048 --threads 1".split()
)


def timed_loop(step: object, seconds: float, min_steps: int = 20) -> tuple[int, float]:
    """Call ``step()`` until ``seconds`` have passed (at least ``min_steps`` times); (calls, wall seconds)."""
    assert callable(step)
    step()  # warm-up
    n, start = 0, time.perf_counter()
    while n < min_steps or time.perf_counter() - start < seconds:
        step()
        n += 1
    return n, time.perf_counter() - start


def raw_rate(num_envs: int, seconds: float) -> float:
    """Env steps/s of VMAS's own step on ``num_envs`` copies (random discrete actions, no resets)."""
    import vmas

    env = vmas.make_env(SCENARIO, num_envs=num_envs, device="cpu", continuous_actions=False, seed=0)
    gen = torch.Generator().manual_seed(0)
    pool = [
        [torch.randint(0, 9, (num_envs, 1), generator=gen) for _ in range(env.n_agents)] for _ in range(64)
    ]
    k = [0]

    def step() -> None:
        env.step(pool[k[0] % 64])
        k[0] += 1

    n, wall = timed_loop(step, seconds)
    return num_envs * n / wall


def core_rate(num_envs: int, seconds: float) -> float:
    """Env steps/s of matrl's VmasCore (numpy actions in, numpy arrays out, 25-step episodes, auto-reset)."""
    from matrl.envs.vmas_core import VmasCore

    core = VmasCore(num_envs, SCENARIO, seed=0)
    core.reset()
    rng = np.random.default_rng(0)
    pool = rng.integers(0, core.n_actions, size=(64, num_envs, core.n_agents))
    k = [0]

    def step() -> None:
        core.step(pool[k[0] % 64])
        k[0] += 1

    n, wall = timed_loop(step, seconds, min_steps=50)
    return num_envs * n / wall


def reset_times(num_envs: int, repeats: int = 5) -> tuple[float, float]:
    """Seconds for resetting all copies: one vectorised ``reset``, and ``reset_at`` once per copy."""
    import vmas

    env = vmas.make_env(SCENARIO, num_envs=num_envs, device="cpu", continuous_actions=False, seed=0)
    start = time.perf_counter()
    for _ in range(repeats):
        env.reset(return_observations=False)
    vectorised = (time.perf_counter() - start) / repeats
    start = time.perf_counter()
    for k in range(num_envs):
        env.reset_at(k, return_observations=False)
    per_copy = time.perf_counter() - start
    return vectorised, per_copy


def train_rate(algo: str, num_envs: int, total_steps: int) -> tuple[float, float]:
    """(env steps/s over iterations 2.., share of collection) of one ``matrl train`` run."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            str(Path(sys.executable).parent / "matrl"),
            "train",
            "--env",
            f"vmas:{SCENARIO}",
            "--algo",
            algo,
            "--num-envs",
            str(num_envs),
            "--total-steps",
            str(total_steps),
            *JAXMARL_SETTINGS,
            "--out",
            f"{out}/run",
        ]
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        with open(f"{out}/run/metrics.csv") as f:
            rows = list(csv.DictReader(f))[1:]
    steps = float(rows[-1]["env_steps"]) - float(rows[0]["env_steps"]) + 2048
    wall = sum(float(r["time_iteration"]) for r in rows)
    collect = sum(float(r["time_collect"]) for r in rows)
    return steps / wall, collect / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, nargs="+", default=[16, 256, 2048])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--train-steps", type=int, default=30 * 2048)
    parser.add_argument("--train-envs", type=int, nargs="+", default=[256])
    parser.add_argument("--algos", nargs="+", default=["il"])
    parser.add_argument("--no-train", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    import vmas

    print(f"- Machine: {describe_machine()}; torch {torch.__version__}; vmas {vmas.__version__}")
    print(f"- Load before: {os.getloadavg()[0]:.2f} (1-min average)")
    print(
        "\n| envs | raw VMAS step (env steps/s) | VmasCore step (env steps/s) | reset all: vectorised (ms) | "
        "reset all: reset_at per copy (ms) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: |")
    for e in args.envs:
        raw = raw_rate(e, args.seconds)
        core = core_rate(e, args.seconds)
        vec, per = reset_times(e)
        print(f"| {e:,} | {raw:,.0f} | {core:,.0f} | {vec * 1e3:.2f} | {per * 1e3:.1f} |", flush=True)
    if not args.no_train:
        print("\n| algo | envs | train env steps/s | collection share |")
        print("| --- | ---: | ---: | ---: |")
        for algo in args.algos:
            for e in args.train_envs:
                rate, share = train_rate(algo, e, args.train_steps)
                print(f"| {algo} | {e:,} | {rate:,.0f} | {share:.0%} |", flush=True)
    print(f"\n- Load after: {os.getloadavg()[0]:.2f} (1-min average)")


if __name__ == "__main__":
    main()
