"""Shared test helpers: drive a registry env through either the batched core (E=1) or the ParallelEnv."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matrl.envs import make_env, make_vector_env

BACKENDS = ("core", "parallel")


@dataclass
class Step:
    obs: np.ndarray  # (n, obs_dim) float32
    rewards: list[float]
    done: list[bool]  # ma-gym's per-agent done list
    terminated: list[bool]
    truncated: list[bool]
    info: dict[str, Any] = field(default_factory=dict)  # agent 0's info
    arrived: list[bool] | None = None  # Switch only


class Runner:
    """One copy of ``env_id`` behind a uniform list-in / arrays-out interface."""

    def __init__(self, env_id: str, backend: str, **kwargs: Any) -> None:
        self.backend = backend
        if backend == "core":
            self.core = make_vector_env(env_id, 1, **kwargs)
            self.n = self.core.n_agents
        else:
            self.env = make_env(env_id, **kwargs)
            self.agents = list(self.env.possible_agents)
            self.n = len(self.agents)

    def reset(self) -> np.ndarray:
        if self.backend == "core":
            return self.core.reset(seed=0)[0]
        obs, _ = self.env.reset(seed=0)
        return np.stack([obs[a] for a in self.agents])

    def step(self, actions: list[int]) -> Step:
        if self.backend == "core":
            res = self.core.step(np.array([actions]))
            info = {k: v[0] for k, v in res.info.items()}
            arrived = res.info["arrived"][0].tolist() if "arrived" in res.info else None
            return Step(
                res.final_obs[0],
                [float(x) for x in res.rewards[0]],
                res.done[0].tolist(),
                res.terminated[0].tolist(),
                res.truncated[0].tolist(),
                info,
                arrived,
            )
        obs, rew, term, trunc, infos = self.env.step(dict(zip(self.agents, actions, strict=True)))
        return Step(
            np.stack([obs[a] for a in self.agents]),
            [rew[a] for a in self.agents],
            [infos[a]["done"] for a in self.agents],
            [term[a] for a in self.agents],
            [trunc[a] for a in self.agents],
            infos[self.agents[0]],
            [infos[a]["arrived"] for a in self.agents] if "arrived" in infos[self.agents[0]] else None,
        )

    def food(self, step: Step) -> dict[str, int]:
        """Checkers food counts in ma-gym's format from either backend's info."""
        if self.backend == "core":
            return {"lemon": int(step.info["lemon_count"]), "apple": int(step.info["apple_count"])}
        return dict(step.info["food_count"])


def f32(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)
