"""A PettingZoo ``ParallelEnv`` over one copy of any batched core (grid worlds, repeated matrix games).

The wrapper owns a core with ``num_envs=1`` and ``autoreset=False`` and only translates between dicts keyed by
agent name and the core's arrays, so its trajectories are the core's by construction.
:class:`OneCopyParallelEnv` holds that translation for every such wrapper (also Pong's and MaMuJoCo's).
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import gymnasium
import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray
from pettingzoo import ParallelEnv

from matrl.envs.core import GridCore, StepResult, VectorCore

AgentID = str
ObsType = NDArray[np.float32]
ActionType = int
RENDER_MODES = ("rgb_array",)


class OneCore(Protocol):
    """What :class:`OneCopyParallelEnv` needs of its core (built with one copy and no auto-reset)."""

    def reset(self, seed: int | None = None) -> NDArray[Any]: ...

    def step(self, actions: ArrayLike) -> StepResult: ...


CoreT = TypeVar("CoreT", bound=OneCore)
ObsT = TypeVar("ObsT")
ActT = TypeVar("ActT")


class OneCopyParallelEnv(ParallelEnv[AgentID, ObsT, ActT], ABC, Generic[CoreT, ObsT, ActT]):
    """The dict plumbing shared by every PettingZoo view of one core copy (grid worlds, Pong, MaMuJoCo).

    It exists so reset/step (seeding, the episode-over check, per-agent reward and termination dicts) live in
    one place. A subclass builds ``core`` (one copy, no auto-reset, float64 rewards), ``possible_agents``,
    ``agents`` and the space dicts in ``__init__`` and supplies the hooks :meth:`_joint_action`,
    :meth:`_obs_dict`, :meth:`_step_infos` and, if its reset infos are not empty, :meth:`_reset_infos`.
    """

    core: CoreT
    #: True until ``reset()`` and again once an episode ended; ``step()`` refuses while it is set.
    _needs_reset: bool = True

    def observation_space(self, agent: AgentID) -> gymnasium.spaces.Space[Any]:
        return self.observation_spaces[agent]

    def action_space(self, agent: AgentID) -> gymnasium.spaces.Space[Any]:
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[AgentID, ObsT], dict[AgentID, dict[str, Any]]]:
        """Start an episode; ``seed`` seeds the core's reset and the action spaces' ``sample``."""
        del options
        if seed is not None:
            for i, agent in enumerate(self.possible_agents):
                self.action_spaces[agent].seed(seed + i)
        obs = self.core.reset(seed)
        self.agents = list(self.possible_agents)
        self._needs_reset = False
        return self._obs_dict(obs), self._reset_infos()

    def step(
        self, actions: dict[AgentID, Any]
    ) -> tuple[
        dict[AgentID, ObsT],
        dict[AgentID, float],
        dict[AgentID, bool],
        dict[AgentID, bool],
        dict[AgentID, dict[str, Any]],
    ]:
        """One joint step; ``actions`` must hold one valid action for every agent in ``agents``."""
        if self._needs_reset:
            raise ValueError("the episode is over (or never started); call reset() before step()")
        res = self.core.step(self._joint_action(actions))
        agents = self.agents
        obs = self._obs_dict(res.obs)
        rewards = {a: float(res.rewards[0, i]) for i, a in enumerate(agents)}
        terminated = {a: bool(res.terminated[0, i]) for i, a in enumerate(agents)}
        truncated = {a: bool(res.truncated[0, i]) for i, a in enumerate(agents)}
        infos = self._step_infos(res)
        if res.episode_over[0]:
            self.agents = []
            self._needs_reset = True
        return obs, rewards, terminated, truncated, infos

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _joint_action(self, actions: dict[AgentID, Any]) -> NDArray[Any]:
        """Check the action dict and turn it into the core's joint action (leading axis of one copy)."""

    @abstractmethod
    def _obs_dict(self, obs: NDArray[Any]) -> dict[AgentID, ObsT]:
        """The core's (1, n, ...) observations as one entry per agent of ``possible_agents``."""

    def _reset_infos(self) -> dict[AgentID, dict[str, Any]]:
        """Per-agent infos returned by ``reset()``: empty by default."""
        return {agent: {} for agent in self.agents}

    @abstractmethod
    def _step_infos(self, res: StepResult) -> dict[AgentID, dict[str, Any]]:
        """Per-agent infos of the step ``res``; ``agents`` still lists the agents that took it."""


class CoreParallelEnv(OneCopyParallelEnv[VectorCore, ObsType, ActionType]):
    """PettingZoo parallel API for a batched core; actions ``Discrete(core.n_actions)``, ``Box`` observations.

    Frames (``render_mode="rgb_array"``) exist for grid worlds only.

    Termination mapping (Switch): an agent that reached its target is **not** removed from ``agents``. In the
    pinned ma-gym code such an agent stays on the board, blocks its cell, has its actions ignored and keeps
    being charged the step cost, and the official MATRL trainer keeps storing its transitions; so every agent
    stays live until the episode ends, and ``infos[agent]["arrived"]`` (plus ma-gym's per-agent
    ``infos[agent]["done"]``) reports the arrival. When the episode ends every agent gets
    ``terminated=True`` if the game's own end was reached (all apples eaten / all agents arrived) or
    ``truncated=True`` if the time limit ``max_steps`` ended it, and ``agents`` becomes empty.

    Rewards are Python floats computed exactly like ma-gym's (the core runs in float64 here), so returns match
    the original to the last bit. Observations are float32 arrays inside ``observation_space(agent)``. The
    games are deterministic: ``reset(seed)`` only seeds the action spaces' ``sample``.
    """

    def __init__(self, core_factory: Callable[..., VectorCore], render_mode: str | None = None) -> None:
        """``core_factory(num_envs=1, autoreset=False, reward_dtype=np.float64)`` must build the core."""
        self.core = core_factory(num_envs=1, autoreset=False, reward_dtype=np.float64)
        render_modes = RENDER_MODES if isinstance(self.core, GridCore) else ()
        if render_mode is not None and render_mode not in render_modes:
            allowed = ", ".join(["None", *map(repr, render_modes)])
            raise ValueError(f"unsupported render_mode {render_mode!r}; allowed: {allowed}")
        self.render_mode = render_mode
        self.metadata: dict[str, Any] = {
            "name": self.core.env_id,
            "render_modes": list(render_modes),
            "is_parallelizable": True,
            "render_fps": 4,
        }
        self.possible_agents: list[AgentID] = list(self.core.agent_ids)
        self.agents: list[AgentID] = []
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        self.observation_spaces = {
            agent: spaces.Box(low=self.core.obs_low, high=self.core.obs_high, dtype=np.float32)
            for agent in self.possible_agents
        }
        self.action_spaces = {agent: spaces.Discrete(self.core.n_actions) for agent in self.possible_agents}
        self._needs_reset = True

    def render(self) -> NDArray[np.uint8] | None:
        """The current board as an (H, W, 3) uint8 frame (``render_mode="rgb_array"``)."""
        if self.render_mode is None or not isinstance(self.core, GridCore):
            gymnasium.logger.warn("render() called without render_mode; pass render_mode='rgb_array'")
            return None
        return self.core.render_rgb(0)

    def close(self) -> None:
        """Nothing to release (no window, no subprocess)."""

    # ------------------------------------------------------------------ hooks
    def _obs_dict(self, obs: NDArray[Any]) -> dict[AgentID, ObsType]:
        return {agent: obs[0, i] for i, agent in enumerate(self.possible_agents)}

    def _reset_infos(self) -> dict[AgentID, dict[str, Any]]:
        infos = self.core.agent_infos(self.core.current_info(), 0)
        for info in infos:
            info["done"] = False
        return dict(zip(self.agents, infos, strict=True))

    def _step_infos(self, res: StepResult) -> dict[AgentID, dict[str, Any]]:
        infos = self.core.agent_infos(res.info, 0)
        for i, info in enumerate(infos):
            info["done"] = bool(res.done[0, i])
        return dict(zip(self.agents, infos, strict=True))

    def _joint_action(self, actions: dict[AgentID, ActionType]) -> NDArray[np.intp]:
        """Check the action dict and turn it into the core's (1, n) array; one-line ValueError if invalid."""
        if not isinstance(actions, dict):
            raise ValueError(f"actions must be a dict {{agent: int}}, got {type(actions).__name__}")
        unknown = sorted(set(actions) - set(self.agents), key=str)
        if unknown:
            raise ValueError(f"actions for unknown agents {unknown}; expected exactly {self.agents}")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"missing actions for agents {missing}; expected exactly {self.agents}")
        n_actions, allowed = self.core.n_actions, self.core.allowed_actions
        joint = np.empty((1, len(self.possible_agents)), dtype=np.intp)
        for agent in self.agents:
            value = actions[agent]
            if isinstance(value, np.ndarray) and value.ndim == 0:
                value = value[()]
            if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
                raise ValueError(f"invalid action {value!r} for {agent}: must be an int; allowed: {allowed}")
            if not 0 <= int(value) < n_actions:
                raise ValueError(f"invalid action {int(value)} for {agent}; allowed: {allowed}")
            joint[0, self._index[agent]] = int(value)
        return joint


#: The name this class had when it wrapped grid worlds only.
GridParallelEnv = CoreParallelEnv
