"""A small configurable PettingZoo ParallelEnv for the tests of third-party envs: agents of different kinds,
agents that leave or join mid-episode, seeded resets."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv


class Team(ParallelEnv[str, np.ndarray, Any]):
    """Agents ``a0, a1, ...`` with their own observation sizes and action spaces.

    Each episode draws a target in {0, 1} per agent from the env's RNG (seeded by ``reset(seed)``). Agent i
    observes ``[target_i, t / max_steps, 0, ...]`` (``obs_sizes[i]`` values) and is rewarded 1 when its
    (discrete) action equals its target, or ``-|a_0 - target|`` for a Box action. ``leave`` maps an agent to
    the step after which it terminates; ``join`` to the step before which it is absent. The episode is
    truncated after ``max_steps``.
    """

    metadata: dict[str, Any] = {"name": "team"}  # noqa: RUF012 - PettingZoo's attribute

    def __init__(
        self,
        obs_sizes: tuple[int, ...] = (3, 5),
        actions: tuple[int | tuple[float, float, int], ...] = (2, 4),
        max_steps: int = 6,
        leave: dict[str, int] | None = None,
        join: dict[str, int] | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.possible_agents = [f"a{i}" for i in range(len(obs_sizes))]
        self.agents: list[str] = []
        self.render_mode = render_mode
        self._obs = {
            a: spaces.Box(-1.0, 2.0, shape=(n,), dtype=np.float32)
            for a, n in zip(self.possible_agents, obs_sizes, strict=True)
        }
        self._act: dict[str, spaces.Space[Any]] = {}
        for a, spec in zip(self.possible_agents, actions, strict=True):
            if isinstance(spec, int):
                self._act[a] = spaces.Discrete(spec)
            else:
                low, high, dim = spec
                self._act[a] = spaces.Box(low, high, shape=(dim,), dtype=np.float32)
        self.max_steps = max_steps
        self.leave = dict(leave or {})
        self.join = dict(join or {})
        self.rng = np.random.default_rng()
        self.t = 0
        self.target: dict[str, int] = {}
        self.received: list[dict[str, Any]] = []

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        return self._obs[agent]

    def action_space(self, agent: str) -> spaces.Space[Any]:
        return self._act[agent]

    def _ob(self, agent: str) -> np.ndarray:
        out = np.zeros(self._obs[agent].shape, dtype=np.float32)
        out[0], out[1] = self.target[agent], self.t / self.max_steps
        return out

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, Any]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.t = 0
        self.target = {a: int(self.rng.integers(0, 2)) for a in self.possible_agents}
        self.agents = [a for a in self.possible_agents if self.join.get(a, 0) == 0]
        return {a: self._ob(a) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]) -> tuple[Any, ...]:
        assert set(actions) == set(self.agents), (sorted(actions), self.agents)
        self.received.append(dict(actions))
        self.t += 1
        rew = {}
        for a in self.agents:
            act = actions[a]
            if isinstance(self._act[a], spaces.Discrete):
                assert self._act[a].contains(act), (a, act)
                rew[a] = float(act == self.target[a])
            else:
                assert np.asarray(act).shape == self._act[a].shape, (a, act)
                rew[a] = -abs(float(np.asarray(act)[0]) - self.target[a])
        term = {a: self.leave.get(a) == self.t for a in self.agents}
        trunc = {a: self.t >= self.max_steps for a in self.agents}
        obs = {a: self._ob(a) for a in self.agents}
        self.agents = [a for a in self.agents if not (term[a] or trunc[a])]
        for a in self.possible_agents:
            if self.join.get(a, 0) == self.t and self.t < self.max_steps:
                self.agents.append(a)
                obs[a] = self._ob(a)
        return obs, rew, term, trunc, {a: {} for a in obs}


def team(**kwargs: Any) -> Team:
    """Factory for `matrl.envs.register_env` (JSON kwargs: lists become tuples)."""
    for key in ("obs_sizes", "actions"):
        if key in kwargs:
            kwargs[key] = tuple(tuple(v) if isinstance(v, list) else v for v in kwargs[key])
    return Team(**kwargs)


class Crashing(Team):
    """A Team whose ``step`` raises at step ``crash_at`` (for the tests of errors in env worker processes)."""

    def __init__(self, crash_at: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.crash_at = crash_at

    def step(self, actions: dict[str, Any]) -> tuple[Any, ...]:
        if self.t + 1 == self.crash_at:
            raise RuntimeError(f"team env crashed at step {self.crash_at}")
        return super().step(actions)


def crashing(**kwargs: Any) -> Crashing:
    """Factory of :class:`Crashing`."""
    return Crashing(**kwargs)
