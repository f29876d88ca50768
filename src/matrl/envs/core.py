"""Shared machinery of the batched cores: action checks, time limit, auto-reset, episode stats, snapshots.

A core steps ``num_envs`` independent copies of one game at once with numpy arrays shaped
``(num_envs, n_agents, ...)``. Subclasses only describe the game (initial state, one joint move,
observation, extra info, drawing); everything that must behave identically across games lives in
:class:`VectorCore`, so that the rollout layer can rely on one contract. :class:`GridCore` adds what the grid
worlds share (a board shape and frames).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from matrl.envs.spec import ActionSpec

#: Action ids shared by both games (ma-gym numbering).
ACTION_NAMES: tuple[str, ...] = ("DOWN", "LEFT", "UP", "RIGHT", "NOOP")
N_ACTIONS = len(ACTION_NAMES)
NOOP = 4
#: (d_row, d_col) of each action; row 0 is the top row.
ACTION_DELTAS: tuple[tuple[int, int], ...] = ((1, 0), (0, -1), (-1, 0), (0, 1), (0, 0))
ALLOWED_ACTIONS = ", ".join(f"{i}={name}" for i, name in enumerate(ACTION_NAMES))


class StepResult(NamedTuple):
    """What one batched step returns.

    Everything except ``obs`` describes the transition just taken, i.e. the state *before* auto-reset.
    """

    obs: NDArray[np.float32]
    """(E, n, obs_dim): next observation; already the reset observation for copies whose episode ended.

    When no copy ended this is the very same array as ``final_obs``."""
    rewards: NDArray[np.floating[Any]]
    """(E, n): per-agent reward of this step (float32 unless the core was built with another reward dtype)."""
    terminated: NDArray[np.bool_]
    """(E, n): episode ended by the game's own terminal condition (all apples eaten / all agents arrived)."""
    truncated: NDArray[np.bool_]
    """(E, n): episode ended by the time limit ``max_steps`` (and not terminated)."""
    episode_over: NDArray[np.bool_]
    """(E,): ``terminated | truncated`` for the copy; such copies were reset."""
    final_obs: NDArray[np.float32]
    """(E, n, obs_dim): the observation reached by this transition, before any reset (bootstrap from it)."""
    done: NDArray[np.bool_]
    """(E, n): ma-gym's own per-agent ``done`` list (sticky; in Switch an agent is done once it arrived)."""
    episode_return: NDArray[np.float64]
    """(E, n): sum of this episode's rewards so far, including this step (final return where episode_over)."""
    episode_length: NDArray[np.int64]
    """(E,): steps taken in this episode, including this one (final length where episode_over)."""
    info: Mapping[str, NDArray[Any]]
    """Game-specific extras, arrays shaped (E,) or (E, n), e.g. Checkers food counts, Switch arrivals."""


def check_action_batch(
    actions: ArrayLike, agent_ids: Sequence[Any], num_envs: int, n_actions: int, allowed: str
) -> NDArray[np.intp]:
    """Validate a joint action batch (E, n) of ints in [0, n_actions); raise one clear ValueError otherwise.

    Shared by every core so that a bad batch reads the same whatever env produced it.
    """
    n_agents = len(agent_ids)
    a = np.asarray(actions)
    expected = (num_envs, n_agents)
    if a.shape != expected:
        raise ValueError(f"actions must have shape {expected} (num_envs, n_agents), got shape {a.shape}")
    if a.dtype.kind not in "iu":
        raise ValueError(f"actions must have an integer dtype, got {a.dtype}; allowed: {allowed}")
    if a.dtype != np.intp:
        a = a.astype(np.intp)
    if a.min() < 0 or a.max() >= n_actions:
        e, i = (int(v) for v in np.argwhere((a < 0) | (a >= n_actions))[0])
        raise ValueError(f"invalid action {int(a[e, i])} for env {e}, {agent_ids[i]}; allowed: {allowed}")
    return a


def check_box_batch(
    actions: ArrayLike, num_envs: int, n_agents: int, dim: int, mask: NDArray[np.bool_]
) -> tuple[NDArray[Any], tuple[int, int, int] | None]:
    """A continuous action batch (E, A, dim) checked for shape and a real dtype (one ValueError each), and
    the (env, agent, entry) of its first non-finite real entry (``mask`` (A, dim): padding is not looked at),
    or None. Callers word that last error themselves (copy offsets, bounds)."""
    a = np.asarray(actions)
    expected = (num_envs, n_agents, dim)
    if a.shape != expected:
        raise ValueError(
            f"actions must have shape {expected} (num_envs, n_agents, action dim), got shape {a.shape}"
        )
    if a.dtype.kind not in "fiu":
        raise ValueError(f"actions must be real numbers, got dtype {a.dtype}")
    bad = ~np.isfinite(a) & mask[None]
    if not bad.any():
        return a, None
    e, i, j = (int(v) for v in np.argwhere(bad)[0])
    return a, (e, i, j)


class VectorCore(ABC):
    """Base class of a batched game with a fixed start state (grid worlds, repeated matrix games).

    Subclasses keep their state in arrays with a leading ``num_envs`` axis, name every array that stepping
    mutates in ``_state_fields`` (so that :meth:`state_dict` can snapshot it) and implement the abstract
    hooks. ``step`` works in place on that state and allocates only its outputs.
    """

    #: Registry id (PettingZoo style).
    env_id: str = ""
    #: Attribute names of the game's mutable state arrays (restored in place by ``load_state_dict``).
    _state_fields: ClassVar[tuple[str, ...]] = ()
    #: The episode bookkeeping every core mutates.
    _base_state_fields: ClassVar[tuple[str, ...]] = ("_steps", "_returns", "_over")

    def __init__(
        self,
        num_envs: int,
        n_agents: int,
        local_obs_dim: int,
        local_obs_low: NDArray[np.float32],
        local_obs_high: NDArray[np.float32],
        *,
        max_steps: int,
        full_observable: bool,
        autoreset: bool,
        reward_dtype: DTypeLike,
        n_actions: int = N_ACTIONS,
        allowed_actions: str = ALLOWED_ACTIONS,
    ) -> None:
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if int(max_steps) < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.num_envs = int(num_envs)
        self.n_agents = int(n_agents)
        self.n_actions = int(n_actions)
        self.action_spec = ActionSpec.discrete(self.n_actions)
        #: How error messages describe the valid actions.
        self.allowed_actions = allowed_actions
        self.max_steps = int(max_steps)
        self.full_observable = bool(full_observable)
        self.autoreset = bool(autoreset)
        self.reward_dtype: np.dtype[Any] = np.dtype(reward_dtype)
        if self.reward_dtype.kind != "f":
            raise ValueError(f"reward_dtype must be a float dtype, got {self.reward_dtype}")
        self.agent_ids: tuple[str, ...] = tuple(f"agent_{i}" for i in range(self.n_agents))
        self.local_obs_dim = int(local_obs_dim)
        if self.full_observable:
            # ma-gym -v1: every agent sees the concatenation of all agents' local observations.
            self.obs_dim = self.local_obs_dim * self.n_agents
            self.obs_low = np.tile(local_obs_low, self.n_agents).astype(np.float32)
            self.obs_high = np.tile(local_obs_high, self.n_agents).astype(np.float32)
        else:
            self.obs_dim = self.local_obs_dim
            self.obs_low = np.asarray(local_obs_low, dtype=np.float32)
            self.obs_high = np.asarray(local_obs_high, dtype=np.float32)
        self._env_index = np.arange(self.num_envs)
        self._steps = np.zeros(self.num_envs, dtype=np.int64)
        self._returns = np.zeros((self.num_envs, self.n_agents), dtype=np.float64)
        self._over = np.zeros(self.num_envs, dtype=np.bool_)
        self._all = np.ones(self.num_envs, dtype=np.bool_)
        self._allocate()
        self._reset_state(self._all)
        # The start state is fixed, so the reset observation is a constant that auto-reset can copy in.
        self._reset_obs = self._full(self._observe())[0].copy()

    # ------------------------------------------------------------------ game hooks
    @abstractmethod
    def _allocate(self) -> None:
        """Create the state arrays (leading axis ``num_envs``); called once by ``__init__``."""

    @abstractmethod
    def _reset_state(self, mask: NDArray[np.bool_]) -> None:
        """Put the copies selected by ``mask`` (E,) back into the start state."""

    @abstractmethod
    def _advance(
        self, actions: NDArray[np.intp]
    ) -> tuple[NDArray[np.floating[Any]], NDArray[np.bool_], NDArray[np.bool_]]:
        """Apply one joint action to every copy.

        Returns per-agent rewards (E, n), the per-agent done flags set by the game itself (E, n; may be
        internal state, it is only read), and the game's terminal condition (E,). The time limit is handled
        by the base class.
        """

    @abstractmethod
    def _observe(self) -> NDArray[np.float32]:
        """Local observations (E, n, local_obs_dim) of the current state."""

    @abstractmethod
    def _info(self) -> dict[str, NDArray[Any]]:
        """Game-specific extras of the current state, arrays shaped (E,) or (E, n) (fresh copies)."""

    def agent_infos(self, info: Mapping[str, NDArray[Any]], env_index: int) -> list[dict[str, Any]]:
        """Per-agent info dicts of one copy with Python scalars (used by the PettingZoo wrapper)."""
        out: list[dict[str, Any]] = [{} for _ in range(self.n_agents)]
        for key, arr in info.items():
            for i in range(self.n_agents):
                value = arr[env_index, i] if arr.ndim == 2 else arr[env_index]
                out[i][key] = value.item()
        return out

    # ------------------------------------------------------------------ public API
    def reset(self, seed: int | None = None) -> NDArray[np.float32]:
        """Reset every copy and return the observations (E, n, obs_dim).

        ``seed`` is accepted for API symmetry only: the games are deterministic (fixed start state, no
        noise), exactly as in ma-gym, so all randomness comes from the policies.
        """
        del seed
        self._reset_state(self._all)
        self._steps[:] = 0
        self._returns[:] = 0.0
        self._over[:] = False
        return np.broadcast_to(self._reset_obs, (self.num_envs, self.n_agents, self.obs_dim)).copy()

    def current_info(self) -> dict[str, NDArray[Any]]:
        """Game-specific extras of the current state (e.g. right after reset)."""
        return self._info()

    def check_actions(self, actions: ArrayLike) -> NDArray[np.intp]:
        """Validate a joint action batch (E, n) of ints in [0, n_actions); one clear ValueError otherwise."""
        return check_action_batch(
            actions, self.agent_ids, self.num_envs, self.n_actions, self.allowed_actions
        )

    def state_dict(self) -> dict[str, NDArray[Any]]:
        """Copies of every array that stepping changes, keyed by name without the leading underscore.

        Together with the policy's RNG this is what a checkpoint needs to resume training bit-identically:
        episodes in flight continue exactly where they were instead of restarting.
        """
        return {name.lstrip("_"): getattr(self, name).copy() for name in self._all_state_fields()}

    def load_state_dict(self, state: Mapping[str, ArrayLike]) -> None:
        """Restore a :meth:`state_dict` of a core built with the same arguments (values are copied in).

        Arrays are overwritten in place because some have views (e.g. a flat view of the board) that must stay
        valid. Every key is checked before anything is written, so a bad snapshot leaves the core unchanged.
        """
        names = {name.lstrip("_"): name for name in self._all_state_fields()}
        unknown = sorted(set(state) - set(names), key=str)
        if unknown:
            raise ValueError(f"unknown state key {unknown[0]!r} for {self.env_id}; expected {sorted(names)}")
        checked: list[tuple[NDArray[Any], NDArray[Any]]] = []
        for key, name in names.items():
            if key not in state:
                raise ValueError(f"missing state key {key!r} for {self.env_id}; expected {sorted(names)}")
            value = np.asarray(state[key])
            target: NDArray[Any] = getattr(self, name)
            if value.shape != target.shape or value.dtype != target.dtype:
                raise ValueError(
                    f"state key {key!r} must be {target.dtype} of shape {target.shape}, "
                    f"got {value.dtype} of shape {value.shape}"
                )
            checked.append((target, value))
        for target, value in checked:
            np.copyto(target, value)

    def step(self, actions: ArrayLike) -> StepResult:
        """Advance every copy by one joint action (E, n); auto-reset copies whose episode ended."""
        act = self.check_actions(actions)
        if not self.autoreset and self._over.any():
            bad = np.flatnonzero(self._over).tolist()
            raise ValueError(f"episode is over in env copies {bad} (autoreset=False); call reset() first")
        self._steps += 1
        rewards, game_done, game_over = self._advance(act)
        time_up = self._steps >= self.max_steps
        # ma-gym marks every agent done when the step counter reaches max_steps.
        done = game_done | time_up[:, None]
        over = game_over | time_up
        self._returns += rewards
        final_obs = self._full(self._observe())
        n = self.n_agents
        terminated = np.repeat(game_over[:, None], n, axis=1)
        truncated = np.repeat((time_up & ~game_over)[:, None], n, axis=1)
        result = StepResult(
            obs=final_obs,
            rewards=rewards,
            terminated=terminated,
            truncated=truncated,
            episode_over=over,
            final_obs=final_obs,
            done=done,
            episode_return=self._returns.copy(),
            episode_length=self._steps.copy(),
            info=self._info(),
        )
        if over.any():
            if self.autoreset:
                obs = final_obs.copy()
                obs[over] = self._reset_obs
                self._reset_state(over)
                self._steps[over] = 0
                self._returns[over] = 0.0
                result = result._replace(obs=obs)
            else:
                self._over |= over
        return result

    # ------------------------------------------------------------------ helpers
    def _all_state_fields(self) -> tuple[str, ...]:
        return self._base_state_fields + self._state_fields

    def _full(self, local: NDArray[np.float32]) -> NDArray[np.float32]:
        """Tile local observations into the fully observable layout when asked to."""
        if not self.full_observable:
            return local
        flat = local.reshape(self.num_envs, 1, self.obs_dim)
        return np.repeat(flat, self.n_agents, axis=1)

    def _check_env_index(self, env_index: int) -> int:
        if not 0 <= int(env_index) < self.num_envs:
            raise ValueError(f"env_index {env_index} out of range; allowed 0..{self.num_envs - 1}")
        return int(env_index)


class GridCore(VectorCore):
    """Base class of a batched grid world: a :class:`VectorCore` with a board shape and frames."""

    #: Grid shape (rows, cols).
    shape: tuple[int, int] = (0, 0)

    @abstractmethod
    def render_rgb(self, env_index: int = 0) -> NDArray[np.uint8]:
        """Draw copy ``env_index`` as an (H, W, 3) uint8 image."""
