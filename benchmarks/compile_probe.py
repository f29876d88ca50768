"""What ``torch.compile`` gives the PPO minibatch step on a CPU: eager against compiled, one thread.

The step timed is the update's inner loop body: `matrl.learners.update.agent_losses` on one minibatch, the
backward pass of the summed per-agent losses, and the Adam step, on the shapes of a real iteration (a
learner built as `matrl train` builds it, JaxMARL's settings: 64x64, 4 minibatches of a 2,048-step batch).
The compiled version wraps the loss function (``torch.compile(agent_losses)``, default mode, dynamic shapes
off); its first calls, which compile, are timed apart. Prints one line per env: eager ms, compiled ms,
their ratio and the compile seconds.

    .venv/bin/python benchmarks/compile_probe.py [--envs checkers_v0 vmas:simple_spread] [--steps 40]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


def timed_steps(learner: Any, loss_fn: Any, steps: int) -> float:
    """Milliseconds per minibatch step (loss, backward, Adam) over ``steps`` steps."""
    samples = learner.prepare(learner.collect())
    size = samples.actions.shape[1] // learner.config.ppo.minibatches
    order = torch.randperm(samples.actions.shape[1], generator=torch.Generator().manual_seed(0))
    optimizer = learner.predict_optimizer
    start = time.perf_counter()
    for k in range(steps):
        lo = (k % learner.config.ppo.minibatches) * size
        loss, _ = loss_fn(learner.net, samples, learner.loss_weights, order[lo : lo + size], None, False)
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimizer.step()
    return 1e3 * (time.perf_counter() - start) / steps


def main() -> None:
    from matrl.learners.update import agent_losses
    from throughput import build_learner

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["checkers_v0", "vmas:simple_spread"])
    parser.add_argument("--setting", default="jax16", choices=["paper", "jax16", "jax256"])
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for env in args.envs:
        learner = build_learner(env, "il", args.setting, 1)
        compiled = torch.compile(agent_losses, dynamic=False)
        timed_steps(learner, agent_losses, 4)  # warm-up
        started = time.perf_counter()
        timed_steps(learner, compiled, 4)  # compiles (forward and backward graphs)
        compile_s = time.perf_counter() - started
        eager = [timed_steps(learner, agent_losses, args.steps) for _ in range(3)]
        fast = [timed_steps(learner, compiled, args.steps) for _ in range(3)]
        e, c = min(eager), min(fast)
        print(
            f"{env} ({args.setting}): eager {e:.2f} ms per minibatch step, compiled {c:.2f} ms "
            f"(eager / compiled {e / c:.2f}); compiling took {compile_s:.1f} s",
            flush=True,
        )
        learner.collector.close()


if __name__ == "__main__":
    main()
