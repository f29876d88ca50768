"""Collection speed of the Ray rollout backend against the local one, and the Ray backend's overhead.

For Checkers (``checkers_v0``) and MaMuJoCo Hopper (``hopper_3x1``), each env's preset network (random
weights, fixed) collects batches of E copies x T steps with (a) the in-process `LocalCollector` and (b) the
`RayCollector` with K = 1 and 2 actors of E / K copies. Only collection is timed (no learning); the Ray
backend still ships the weights every batch, as in training. Rows report env steps/s (median over the
timed batches, after one untimed batch that also starts the actors) and, per batch, the Ray backend's
overhead in milliseconds: ``put`` (the state dict into the object store, once for all actors), ``transfer``
(waiting for the shards minus the slowest actor's own time: scheduling, fetching the weights, sending the
batch back) and ``gather`` (joining the shards into one batch). Starts a private local Ray instance (with at
least 2 CPUs); prints a Markdown table and writes docs/benchmarks/ray_rollout_speed.md.

Usage (from the repository root, with the ``ray`` extra installed; best on an otherwise idle machine, since
K = 2 needs two free cores to gain anything):

    .venv/bin/python benchmarks/ray_rollout_speed.py [--envs checkers_v0 hopper_3x1] [--num-envs 16]
        [--steps-per-env 125] [--batches 5] [--workers 1 2] [--note TEXT] [--out FILE | --no-write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from machine import provenance
from matrl.algorithm import build_actor_critic
from matrl.config import preset
from matrl.envs import env_capabilities
from matrl.fileio import write_text_atomically
from matrl.rollout.local import LocalCollector
from matrl.rollout.policy import NetworkPolicy
from matrl.rollout.ray_collector import RayCollector

ROOT = Path(__file__).resolve().parents[1]


def _env_kwargs(env_id: str) -> dict[str, Any]:
    return {"seed": 0} if env_capabilities(env_id).seeding else {}


def bench(collector: Any, env_id: str, steps_per_env: int, batches: int) -> dict[str, float]:
    """Median env steps/s of ``batches`` timed collections (after one untimed one), and Ray's overheads."""
    torch.manual_seed(0)
    net = build_actor_critic(
        preset(env_id), collector.n_agents, collector.obs_dim, collector.action_spec, collector.obs_shape
    )
    policy = NetworkPolicy(net, torch.Generator().manual_seed(1))
    rates: list[float] = []
    overheads: dict[str, list[float]] = {"put": [], "transfer": [], "gather": []}
    for i in range(batches + 1):
        start = time.perf_counter()
        batch = collector.collect(policy, steps_per_env, to_env=policy.to_env)
        seconds = time.perf_counter() - start
        if i == 0:
            continue  # warm-up: the actors' first weights (the pickled module), caches
        rates.append(batch.env_steps / seconds)
        timings = getattr(collector, "timings", None)
        if timings:
            overheads["put"].append(timings["put"])
            overheads["transfer"].append(timings["wait"] - timings["worker"])
            overheads["gather"].append(timings["gather"])
    out = {"rate": statistics.median(rates)}
    out.update({k: 1000 * statistics.median(v) for k, v in overheads.items() if v})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["checkers_v0", "hopper_3x1"])
    parser.add_argument("--num-envs", type=int, default=16, help="env copies E in all")
    parser.add_argument("--steps-per-env", type=int, default=125, help="steps T of each copy per batch")
    parser.add_argument("--batches", type=int, default=5, help="timed batches per row (median reported)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray actor counts K")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "ray_rollout_speed.md")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write --out")
    parser.add_argument("--note", default="", help="a line about the conditions, added to the results file")
    args = parser.parse_args()
    if args.num_envs < 1 or args.steps_per_env < 1 or args.batches < 1:
        parser.error("--num-envs, --steps-per-env and --batches must be >= 1")
    if any(k < 1 or args.num_envs % k for k in args.workers):
        parser.error(f"every --workers value must divide --num-envs={args.num_envs}")

    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private local instance
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows: list[tuple[str, str, int, dict[str, float]]] = []
    # The local rows first, before this process connects to Ray: a connected driver runs Ray's own threads
    # (gRPC, event loops), which would slow an in-process collection on a 2-core machine.
    for env_id in args.envs:
        local = LocalCollector(env_id, args.num_envs, **_env_kwargs(env_id))
        try:
            rows.append((env_id, "local", 0, bench(local, env_id, args.steps_per_env, args.batches)))
        finally:
            local.close()
    ray.init(num_cpus=max(os.cpu_count() or 1, *args.workers), include_dashboard=False, log_to_driver=False)
    try:
        for env_id in args.envs:
            for k in args.workers:
                remote = RayCollector(env_id, args.num_envs, k, env_kwargs=_env_kwargs(env_id))
                try:
                    rows.append((env_id, "ray", k, bench(remote, env_id, args.steps_per_env, args.batches)))
                finally:
                    remote.close()
            print(f"{env_id}: done", flush=True)
    finally:
        ray.shutdown()
    total = time.perf_counter() - start

    lines = [
        "| env | backend | K | E per actor | env steps/s | x local | put ms | transfer ms | gather ms |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for env_id, backend, k, r in rows:
        local_rate = next(row[3]["rate"] for row in rows if row[0] == env_id and row[1] == "local")
        if backend == "local":
            shown = f"| {env_id} | local | - | {args.num_envs} | {r['rate']:,.0f} | 1.00 | - | - | - |"
        else:
            shown = (
                f"| {env_id} | ray | {k} | {args.num_envs // k} | {r['rate']:,.0f} "
                f"| {r['rate'] / local_rate:.2f} | {r['put']:.1f} | {r['transfer']:.1f} | {r['gather']:.1f} |"
            )
        lines.append(shown)
    table = "\n".join(lines)
    print(table)
    print(f"\n{total:.0f} s in all")
    if args.no_write:
        return

    doc = (
        "# Ray rollout speed\n\n"
        "Collection only (no learning): each env's preset network with fixed random weights acts in\n"
        f"E = {args.num_envs} env copies for T = {args.steps_per_env} steps per batch, through the\n"
        "in-process `LocalCollector` or the `RayCollector` with K actors of E / K copies each (a private\n"
        f"local Ray instance on this machine). env steps/s is the median over {args.batches} timed batches\n"
        "after one untimed batch (which also ships the pickled network to the actors). The Ray backend's\n"
        "per-batch overhead:\n"
        "`put` puts the network's state dict into the object store (once for all actors), `transfer` is the\n"
        "wait for the shards minus the slowest actor's own time (scheduling, fetching the weights, sending\n"
        "the batch and env state back), `gather` joins the shards into one (T, E, A, ...) batch.\n\n"
        f"{table}\n\n" + provenance("benchmarks/ray_rollout_speed.py", total, args.note)
    )
    write_text_atomically(args.out, doc)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
