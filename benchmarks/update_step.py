"""Where one PPO minibatch step's time goes on a CPU, piece by piece, and what ``torch.compile`` gives it.

A learner is built as `matrl train` builds it (IL, seed 0) at the chosen setting (default ``jax256``:
JaxMARL's 64x64 networks, 4 minibatches of a 2,048-step batch, 256 env copies), with one thread; after one
iteration, the step is timed on a minibatch of its own batch in growing pieces, each the previous plus one
part:

- ``networks``: the policy and value networks' forward and backward pass alone (outputs summed as the loss);
- ``+ heads``: through `ActorCritic.evaluate` (log-probabilities and entropies of the taken actions);
- ``+ PPO loss``: `matrl.learners.update.agent_losses` (clipped surrogate, value loss, entropy, KL);
- ``+ Adam``: the whole step as `ppo_update` takes it (zero_grad, backward, optimiser step);
- ``compiled``: the last with ``torch.compile(agent_losses)`` (default mode, static shapes), its compile time
  apart.

It also times the networks' largest matrix product alone (``bmm`` of one 64x64 layer over the minibatch) and
prints its GFLOP/s. Milliseconds are the best of 3 repeats of ``--steps`` steps.

    .venv/bin/python benchmarks/update_step.py [--envs checkers_v0 vmas:simple_spread] [--setting jax256]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


def best_ms(step: Callable[[], object], steps: int, repeats: int = 3) -> float:
    """Best of ``repeats`` runs of ``steps`` calls, in milliseconds per call (after 3 warm-up calls)."""
    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - start) / steps)
    return 1e3 * min(times)


def pieces(learner: Any, steps: int) -> dict[str, float]:
    """Milliseconds per minibatch step of each growing piece (see the module docstring)."""
    from matrl.learners.update import agent_losses
    from throughput import networks_pass

    net, optimizer, weights = learner.net, learner.predict_optimizer, learner.loss_weights
    samples = learner.prepare(learner.collect())
    size = samples.actions.shape[1] // learner.config.ppo.minibatches
    index = slice(0, size)
    obs, actions = samples.obs[:, index], samples.actions[:, index]
    compiled = torch.compile(agent_losses, dynamic=False)

    def networks() -> None:
        networks_pass(net, obs)

    def heads() -> None:
        logp, entropy, values = net.evaluate(obs, actions)
        (logp.sum() + entropy.sum() + values.sum()).backward()

    def loss() -> None:
        agent_losses(net, samples, weights, index, None, False)[0].sum().backward()

    def full(losses: Callable[..., Any] = agent_losses) -> None:
        total, _ = losses(net, samples, weights, index, None, False)
        optimizer.zero_grad(set_to_none=True)
        total.sum().backward()
        optimizer.step()

    out = {
        "networks": best_ms(networks, steps),
        "+ heads": best_ms(heads, steps),
        "+ PPO loss": best_ms(loss, steps),
        "+ Adam": best_ms(full, steps),
    }
    started = time.perf_counter()
    full(compiled)  # compiles the forward and backward graphs
    out["compile s"] = time.perf_counter() - started
    out["compiled"] = best_ms(lambda: full(compiled), steps)
    return out


def matmul_gflops(learner: Any) -> float:
    """GFLOP/s of one batched 64x64 layer product over a minibatch (agents x rows x 64 @ 64 x 64)."""
    agents = learner.n_agents
    rows = learner.config.batch_size // learner.config.ppo.minibatches
    width = learner.config.hidden[-1]
    x, w = torch.randn(agents, rows, width), torch.randn(agents, width, width)
    ms = best_ms(lambda: torch.bmm(x, w), 50)
    return 2 * agents * rows * width * width / (ms * 1e-3) / 1e9


def main() -> None:
    from throughput import build_learner

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["checkers_v0", "vmas:simple_spread"])
    parser.add_argument("--setting", default="jax256", choices=["paper", "jax16", "jax256"])
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| env | setting | networks | + heads | + PPO loss | + Adam | compiled | compile s | bmm GFLOP/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for env in args.envs:
        learner = build_learner(env, "il", args.setting, 1)
        learner.iteration()
        ms = pieces(learner, args.steps)
        cells = [f"{ms[k]:.2f}" for k in ("networks", "+ heads", "+ PPO loss", "+ Adam", "compiled")]
        print(
            f"| {env} | {args.setting} | " + " | ".join(cells) + f" | {ms['compile s']:.1f} | "
            f"{matmul_gflops(learner):.1f} |",
            flush=True,
        )
        learner.collector.close()


if __name__ == "__main__":
    main()
