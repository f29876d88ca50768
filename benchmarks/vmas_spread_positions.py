"""Where the agents of a VMAS simple_spread run go: positions, collisions and coverage of its policies.

For the first and the last checkpoint of each run given, plays one 25-step episode in 64 copies (seed 123,
sampled actions) and prints the return summed over agents, the mean distance of an agent from the centre
and the coverage distance G (sum over landmarks of the nearest agent's distance), both read from VMAS's
world at step 24 (the 25th step resets the copies), and the colliding pairs per step (agents closer than
two radii, 0.3). Used for docs/many_agents.md (why ten independent learners end below the random policy).

    .venv/bin/python benchmarks/vmas_spread_positions.py RUN [RUN ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

EPISODE = 25
COLLISION_DISTANCE = 0.3  # two agent radii of simple_spread


def describe(checkpoint: Path) -> str:
    from matrl.envs.registry import make_vector_env
    from matrl.envs.vmas_core import VmasCore
    from matrl.eval.evaluate import load_policy

    policy, config, iteration, _ = load_policy(checkpoint)
    env = make_vector_env(config.env, 64, seed=123, **config.env_kwargs)
    if not isinstance(env, VmasCore):
        raise SystemExit(f"{checkpoint} trained on {config.env}, not a vmas: env")
    obs = env.reset(seed=123)
    world = env._env.world
    generator = torch.Generator().manual_seed(0)
    total = collisions = coverage = from_centre = 0.0
    for t in range(EPISODE):
        step = env.step(policy.env_actions(np.asarray(obs, np.float32), False, generator))
        obs = step.obs
        total += float(np.asarray(step.rewards).sum(-1).mean())
        if t == EPISODE - 1:
            break  # the copies have been reset: the world shows a new episode
        pos = torch.stack([agent.state.pos for agent in world.agents], 1)  # (E, n, 2)
        apart = torch.cdist(pos, pos)
        others = ~torch.eye(pos.shape[1], dtype=torch.bool)
        collisions += float(((apart < COLLISION_DISTANCE) & others).sum((1, 2)).float().mean()) / 2
        if t == EPISODE - 2:
            landmarks = torch.stack([lm.state.pos for lm in world.landmarks], 1)
            coverage = float(torch.cdist(landmarks, pos).min(-1).values.sum(-1).mean())
            from_centre = float(pos.norm(dim=-1).mean())
    return (
        f"{checkpoint}: iteration {iteration}, return {total:.0f}, distance from the centre "
        f"{from_centre:.2f}, colliding pairs per step {collisions / (EPISODE - 1):.2f}, coverage "
        f"distance at step {EPISODE - 1} {coverage:.2f}"
    )


def main() -> None:
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    for run in sys.argv[1:]:
        checkpoints = sorted((Path(run) / "checkpoints").glob("iter_*.safetensors"))
        for checkpoint in dict.fromkeys([checkpoints[0], checkpoints[-1]]):
            print(describe(checkpoint), flush=True)


if __name__ == "__main__":
    main()
