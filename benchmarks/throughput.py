"""Training throughput of IL and MATRL beside each env's raw stepping rate, and the learner's speed-up over a
baseline commit, all measured in one run.

**Throughput table.** For each env (``checkers_v0``; ``vmas:simple_spread`` if ``vmas`` is installed;
``pettingzoo:mpe2.simple_spread_v3`` if ``mpe2`` is), each learner setting and each torch thread count:

- ``paper``: the env's preset (`matrl.config.preset`; the generic defaults where the env has none: 128x128,
  10 full-batch epochs, 2,000 env steps per iteration over 16 copies);
- ``jax16`` / ``jax256``: JaxMARL's IPPO learner settings (``--hidden 64 64 --ppo.update-iters 4
  --ppo.minibatches 4 --batch-size 2048``) with 16 or 256 env copies;

IL and MATRL learners are built as `matrl train` builds them (seed 0), run one untimed warm-up iteration each,
then ``--iterations`` timed iterations round-robin (IL, MATRL, IL, ...), so that background load hits both
alike. Reported: env steps/s (wall clock), CPU seconds per iteration (``time.process_time``: all of the
process's threads), each phase's wall time per iteration (collect, advantages, predict, MATRL's own steps =
meta-game + Nash + mixture + diagnostics, best response), MATRL's wall time over IL's for the same env
steps, and the env's **raw** stepping rate with as many copies (matrl's batched core stepped with uniform
random actions drawn beforehand, auto-resets included, no policy: the physical limit of collection) with the
share of it that training reaches.

**Floor table.** Beside each row: the networks' own forward and backward pass per minibatch
(`network_floor_ms`), times the iteration's gradient steps, plus the raw env's time for the batch: the
*ceiling* env steps/s of any learner made of these networks on this CPU, and the share of it that training
reaches.

**Before/after (``--baseline REV``).** The same learners from the code at git revision REV (``git archive REV
src``) and from this checkout, each in its own worker process, stepped one iteration at a time alternately
(old, new, old, ...) with one thread; the workers run one at a time, so they never compete. Reports the median
wall and CPU milliseconds per iteration of each and the ratios; seeded runs of both are bit-identical (the
workers check that their per-iteration metrics agree).

The load average before and after is printed: on a loaded machine wall-clock figures are noisy and CPU time is
the steadier measure. Prints Markdown tables and writes docs/benchmarks/throughput.md.

    .venv/bin/python benchmarks/throughput.py [--envs checkers_v0 vmas:simple_spread ...]
        [--settings paper jax16 jax256] [--threads 1 2] [--iterations 3] [--raw-seconds 2]
        [--baseline REV [--baseline-settings ...] [--baseline-iterations 6]] [--out FILE | --no-write]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
ENVS = ("checkers_v0", "vmas:simple_spread", "pettingzoo:mpe2.simple_spread_v3")
SETTINGS = ("paper", "jax16", "jax256")
ALGOS = ("il", "matrl")
PHASES = ("collect", "advantages", "predict", "matrl_own", "best_response")
MATRL_OWN = ("metagame", "nash", "mixture", "diagnostics")
#: Before/after pairs: (env, setting); the default covers both envs' JaxMARL settings and the paper preset.
BASELINE_CASES = (
    ("checkers_v0", "paper"),
    ("checkers_v0", "jax16"),
    ("checkers_v0", "jax256"),
    ("vmas:simple_spread", "jax16"),
    ("vmas:simple_spread", "jax256"),
)


def missing_package(env: str) -> str | None:
    """The package an env id needs that is not installed, or None."""
    need = {"vmas:": "vmas", "pettingzoo:mpe2": "mpe2"}
    for prefix, package in need.items():
        if env.startswith(prefix) and importlib.util.find_spec(package) is None:
            return package
    return None


def make_config(env: str, algo: str, setting: str, threads: int) -> Any:
    """The TrainConfig `matrl train` would build for ``env``/``algo`` with the setting's overrides."""
    from matrl.config import preset

    config = dataclasses.replace(preset(env, algo), seed=0, threads=threads, env_workers=1)
    if setting != "paper":
        envs = int(setting.removeprefix("jax"))
        ppo = dataclasses.replace(config.ppo, update_iters=4, minibatches=4)
        config = dataclasses.replace(config, hidden=(64, 64), batch_size=2048, num_envs=envs, ppo=ppo)
    return config.validate()


def build_learner(env: str, algo: str, setting: str, threads: int) -> Any:
    from matrl.algorithm import MATRL
    from matrl.training import make_collector

    config = make_config(env, algo, setting, threads)
    return MATRL(config, make_collector(config))


def timed_iteration(learner: Any) -> dict[str, Any]:
    """One iteration: wall and CPU seconds, phase seconds, and the metrics (for the identity check)."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = learner.iteration()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    phases = dict(result.phase_seconds)
    phases["matrl_own"] = sum(phases.pop(k, 0.0) for k in MATRL_OWN)
    metrics = {
        k: v for k, v in result.metrics.items() if not k.startswith("time_") and k != "steps_per_second"
    }
    return {"wall": wall, "cpu": cpu, "phases": phases, "metrics": metrics}


def raw_rate(env: str, num_envs: int, seconds: float) -> float:
    """Env steps/s of the env's batched core alone (uniform random actions drawn beforehand)."""
    from matrl.config import TrainConfig
    from matrl.training import make_collector

    collector: Any = make_collector(TrainConfig(env=env, num_envs=num_envs, batch_size=num_envs, seed=0))
    core, spec = collector.core, collector.action_spec
    rng = np.random.default_rng(0)
    shape = (64, num_envs, core.n_agents)
    if spec.continuous:
        low, high = np.asarray(spec.low, np.float32), np.asarray(spec.high, np.float32)
        pool: Any = rng.uniform(low, high, size=(*shape[:2], *low.shape)).astype(np.float32)
    elif spec.valid_actions is not None:
        counts = np.asarray(spec.valid_actions).sum(-1)
        pool = (rng.random(shape) * counts).astype(np.int64)
    else:
        pool = rng.integers(0, spec.n, size=shape)
    try:
        core.step(pool[0])
        steps, start = 0, time.perf_counter()
        while steps < 20 or time.perf_counter() - start < seconds:
            core.step(pool[steps % 64])
            steps += 1
        return num_envs * steps / (time.perf_counter() - start)
    finally:
        collector.close()


def networks_pass(net: Any, obs: torch.Tensor) -> None:
    """The policy and value networks' forward and backward pass alone, their outputs summed as the loss."""
    x = net._inputs(obs)
    (net.policy(x).sum() + net.value(x).sum()).backward()


def network_floor_ms(learner: Any, repeats: int = 10) -> float:
    """Milliseconds of one minibatch's forward and backward pass through the policy and value networks alone
    (their outputs summed as the loss: no PPO loss terms, no optimiser, no env), with the learner's shapes.

    What any learner built of these networks must spend per gradient step on this CPU: times the number of
    gradient steps, it is the floor of an update's time.
    """
    net, config = learner.net, learner.config
    samples = learner.prepare(learner.collect())
    size = samples.actions.shape[1] // config.ppo.minibatches
    obs = samples.obs[:, :size].contiguous()

    def step() -> None:
        networks_pass(net, obs)

    step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    net.zero_grad(set_to_none=True)
    return 1e3 * (time.perf_counter() - start) / repeats


def gradient_steps(config: Any, algo: str) -> int:
    """Gradient steps per iteration: IL's PPO epochs x minibatches; MATRL adds its best response's."""
    steps = config.ppo.update_iters * config.ppo.minibatches
    if algo == "matrl":
        steps += config.meta.br_iters * config.ppo.minibatches
    return int(steps)


@dataclass
class Measurement:
    """One algorithm's timed iterations for one (env, setting, threads)."""

    env: str
    setting: str
    threads: int
    algo: str
    batch_size: int
    num_envs: int
    gradient_steps: int
    floor_ms_per_step: float
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)

    def add(self, timing: dict[str, Any]) -> None:
        self.walls.append(timing["wall"])
        self.cpus.append(timing["cpu"])
        for key, value in timing["phases"].items():
            self.phases[key] = self.phases.get(key, 0.0) + value

    @property
    def rate(self) -> float:
        return self.batch_size * len(self.walls) / sum(self.walls)

    def per_iteration_ms(self, key: str) -> float:
        return 1e3 * self.phases.get(key, 0.0) / len(self.walls)


def measure(env: str, setting: str, threads: int, iterations: int) -> dict[str, Measurement]:
    torch.set_num_threads(threads)
    learners = {algo: build_learner(env, algo, setting, threads) for algo in ALGOS}
    out = {}
    floor = network_floor_ms(learners["il"])  # also the IL learner's warm-up of its networks
    for algo, learner in learners.items():
        config = learner.config
        out[algo] = Measurement(
            env,
            setting,
            threads,
            algo,
            config.batch_size,
            config.num_envs,
            gradient_steps(config, algo),
            floor,
        )
        learner.iteration()  # warm-up
    for _ in range(iterations):
        for algo, learner in learners.items():
            out[algo].add(timed_iteration(learner))
    for learner in learners.values():
        learner.collector.close()
    return out


# ---------------------------------------------------------------------------------------- before/after
def worker() -> None:
    """Serve JSON commands on stdin (build a learner, run one iteration) for the before/after comparison."""
    import matrl

    learners: dict[str, Any] = {}
    print(json.dumps({"matrl": str(Path(matrl.__file__).resolve().parent)}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        key = command["key"]
        if command["cmd"] == "build":
            torch.set_num_threads(1)
            learners[key] = build_learner(command["env"], command["algo"], command["setting"], 1)
            learners[key].iteration()  # warm-up
            reply: dict[str, Any] = {"ok": True}
        else:
            reply = timed_iteration(learners[key])
        print(json.dumps(reply), flush=True)


class Worker:
    """A worker process importing matrl from ``src``."""

    def __init__(self, src: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(src), PYTHONHASHSEED="0")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        where = self._read()["matrl"]
        if Path(where) != (src / "matrl").resolve():
            raise RuntimeError(f"worker for {src} imported matrl from {where}")

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("benchmark worker died")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def same_metrics(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal metrics, NaN equal to NaN."""
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k])) for k in a
    )


def compare(revision: str, cases: list[tuple[str, str]], iterations: int) -> list[dict[str, Any]]:
    """Median ms per iteration of the code at ``revision`` and of this checkout, interleaved per iteration."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "archive", revision, "src"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        workers = {"old": Worker(Path(tmp) / "src"), "new": Worker(ROOT / "src")}
        try:
            for env, setting in cases:
                for algo in ALGOS:
                    key = f"{env}/{setting}/{algo}"
                    for w in workers.values():
                        w.ask(cmd="build", key=key, env=env, algo=algo, setting=setting)
                    timings: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
                    for _ in range(iterations):
                        for name, w in workers.items():
                            timings[name].append(w.ask(cmd="iterate", key=key))
                    identical = all(
                        same_metrics(o["metrics"], n["metrics"])
                        for o, n in zip(timings["old"], timings["new"], strict=True)
                    )
                    row: dict[str, Any] = {
                        "env": env,
                        "setting": setting,
                        "algo": algo,
                        "identical": identical,
                    }
                    for name, ts in timings.items():
                        row[f"{name}_wall"] = 1e3 * statistics.median(t["wall"] for t in ts)
                        row[f"{name}_cpu"] = 1e3 * statistics.median(t["cpu"] for t in ts)
                        for phase in ("collect", "predict", "best_response"):
                            row[f"{name}_{phase}"] = 1e3 * statistics.median(
                                t["phases"].get(phase, 0.0) for t in ts
                            )
                    rows.append(row)
                    print(
                        f"  {key}: cpu {row['old_cpu']:.0f} -> {row['new_cpu']:.0f} ms, wall "
                        f"{row['old_wall']:.0f} -> {row['new_wall']:.0f} ms, identical={identical}",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            for w in workers.values():
                w.close()
    return rows


# ---------------------------------------------------------------------------------------- report
def load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def throughput_table(results: list[dict[str, Measurement]], raw: dict[tuple[str, int], float]) -> str:
    lines = [
        "| env | setting | threads | algo | env steps/s | raw env steps/s | share of raw | CPU s/iter | "
        "collect ms | advantages ms | predict ms | MATRL own ms | best response ms | MATRL / IL |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for pair in results:
        il = pair["il"]
        for algo, m in pair.items():
            raw_rate_ = raw[(m.env, m.num_envs)]
            ratio = sum(m.walls) / sum(il.walls) * (len(il.walls) / len(m.walls))
            cells = [
                m.env,
                f"{m.setting} ({m.num_envs} envs)",
                str(m.threads),
                algo,
                f"{m.rate:,.0f}",
                f"{raw_rate_:,.0f}",
                f"{m.rate / raw_rate_:.0%}",
                f"{statistics.mean(m.cpus):.2f}",
                *(f"{m.per_iteration_ms(p):.0f}" for p in PHASES),
                "1.00" if algo == "il" else f"{ratio:.2f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def floor_table(results: list[dict[str, Measurement]], raw: dict[tuple[str, int], float]) -> str:
    """The fastest each learner could run here: the env's raw stepping plus the networks' own passes."""
    lines = [
        "| env | setting | threads | algo | gradient steps / iter | networks ms / step | update floor ms "
        "| raw env ms / iter | ceiling env steps/s | measured env steps/s | share of ceiling |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for pair in results:
        for algo, m in pair.items():
            env_ms = 1e3 * m.batch_size / raw[(m.env, m.num_envs)]
            update_ms = m.gradient_steps * m.floor_ms_per_step
            ceiling = 1e3 * m.batch_size / (env_ms + update_ms)
            cells = [
                m.env,
                f"{m.setting} ({m.num_envs} envs)",
                str(m.threads),
                algo,
                str(m.gradient_steps),
                f"{m.floor_ms_per_step:.2f}",
                f"{update_ms:.0f}",
                f"{env_ms:.0f}",
                f"{ceiling:,.0f}",
                f"{m.rate:,.0f}",
                f"{m.rate / ceiling:.0%}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def baseline_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| env | setting | algo | CPU ms/iter before | after | before / after | wall ms/iter before "
        "| after | before / after | collect ms before / after | update ms before / after "
        "| metrics identical |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        update_old = r["old_predict"] + r["old_best_response"]
        update_new = r["new_predict"] + r["new_best_response"]
        cells = [
            r["env"],
            r["setting"],
            r["algo"],
            f"{r['old_cpu']:.0f}",
            f"{r['new_cpu']:.0f}",
            f"{r['old_cpu'] / r['new_cpu']:.2f}",
            f"{r['old_wall']:.0f}",
            f"{r['new_wall']:.0f}",
            f"{r['old_wall'] / r['new_wall']:.2f}",
            f"{r['old_collect']:.0f} / {r['new_collect']:.0f}",
            f"{update_old:.0f} / {update_new:.0f}",
            "yes" if r["identical"] else "**no**",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--envs", nargs="+", default=list(ENVS))
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--raw-seconds", type=float, default=2.0)
    parser.add_argument("--baseline", help="git revision whose learner to time against this checkout's")
    parser.add_argument("--baseline-iterations", type=int, default=6)
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "throughput.md")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    from machine import provenance
    from matrl.fileio import write_text_atomically

    started = time.perf_counter()
    load_before = load()
    print(f"load average before: {load_before}", file=sys.stderr)
    envs = []
    skipped = []
    for env in args.envs:
        package = missing_package(env)
        if package is None:
            envs.append(env)
        else:
            skipped.append(f"{env} (`{package}` is not installed)")
            print(f"skipping {env}: {package} is not installed", file=sys.stderr)
    results, raw = [], {}
    for env in envs:
        for setting in args.settings:
            num_envs = make_config(env, "il", setting, 1).num_envs
            if (env, num_envs) not in raw:
                torch.set_num_threads(1)
                raw[(env, num_envs)] = raw_rate(env, num_envs, args.raw_seconds)
            for threads in args.threads:
                pair = measure(env, setting, threads, args.iterations)
                results.append(pair)
                print(
                    f"{env} {setting} threads={threads}: "
                    + ", ".join(f"{a} {m.rate:,.0f} env steps/s" for a, m in pair.items()),
                    file=sys.stderr,
                    flush=True,
                )
    table = throughput_table(results, raw)
    print(table)
    floors = floor_table(results, raw)
    print()
    print(floors)
    baseline = ""
    if args.baseline:
        cases = [(e, s) for e, s in BASELINE_CASES if e in envs]
        rows = compare(args.baseline, cases, args.baseline_iterations)
        baseline = baseline_table(rows)
        print()
        print(baseline)
    load_after = load()
    print(f"load average after: {load_after}", file=sys.stderr)
    if args.no_write:
        return
    doc = [
        "# Training throughput: IL and MATRL against each env's raw stepping rate\n",
        "Written by `benchmarks/throughput.py` (its docstring defines every column). Settings:",
        "`paper` is the env's preset (generic defaults where it has none: 128x128 MLPs, 10 full-batch",
        "epochs, 2,000 env steps per iteration over 16 copies); `jax16` / `jax256` are JaxMARL's IPPO",
        "learner settings (64x64, 4 epochs x 4 minibatches, 2,048 env steps per iteration) with 16 or 256",
        f"copies. Env steps/s are wall clock over {args.iterations} iterations after a warm-up, IL and MATRL",
        "interleaved; *raw* is the env's batched core alone with as many copies (random actions drawn",
        "beforehand): collection cannot beat it. MATRL / IL is the wall-time ratio for the same env steps;",
        "CPU s/iter counts every thread.\n",
        f"- Load average (1, 5, 15 min) before: {load_before}; after: {load_after}. On a loaded machine",
        "  wall-clock figures are noisy: compare rows of one run, and the CPU column.",
    ]
    if skipped:
        doc.append(f"- Skipped: {', '.join(skipped)}.")
    doc += ["", table, ""]
    doc += [
        "## The floor: raw env stepping plus the networks' own passes\n",
        "*Networks ms / step*: one minibatch's forward and backward pass through the policy and value",
        "networks alone (outputs summed as the loss; no PPO terms, no optimiser, no env), with the run's",
        "shapes. Times the gradient steps of an iteration (MATRL adds its best response's) it is the update",
        "floor; with the raw env's time for the batch it gives the *ceiling*: the env steps/s that no",
        "learner made of these networks reaches on this CPU.\n",
        floors,
        "",
    ]
    if baseline:
        doc += [
            f"## Before/after: this checkout against `{args.baseline}`\n",
            "Each learner in two worker processes (the old code from `git archive`, the new from this",
            "checkout), one thread, one iteration at a time alternately after a warm-up; medians over",
            f"{args.baseline_iterations} iterations. *Metrics identical*: every iteration's metrics (all",
            "but the timings) agree bit for bit between the two.\n",
            baseline,
            "",
        ]
    doc.append(provenance("benchmarks/throughput.py", time.perf_counter() - started, args.note))
    write_text_atomically(args.out, "\n".join(doc))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
