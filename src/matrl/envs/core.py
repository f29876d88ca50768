"""Shared machinery of the batched cores: action checks, time limit, auto-reset, episode stats, snapshots.

A core steps ``num_envs`` independent copies of one game at once with numpy arrays shaped
``(num_envs, n_agents, ...)``. Everything that must behave identically across games (the step envelope: time
limit, returns, auto-reset, :class:`StepResult`, snapshot checks) lives in :class:`BatchedCore`, so that the
rollout layer can rely on one contract; the games (grid worlds, matrix games, Pong, MaMuJoCo, the PettingZoo
adapter) describe only their own move, reset and observation. :class:`VectorCore` adds what the games with a
fixed start state share, :class:`GridCore` what the grid worlds share (a board shape and frames).
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


def check_agent_actions(core: Any, actions: ArrayLike) -> NDArray[Any]:
    """Actions of a third-party core whose agents may differ (its ``action_spec``, ``agent_ids``,
    ``num_envs``, ``n_agents``, ``n_actions``, ``allowed_actions``): discrete (E, n) ints within each agent's
    own count, or continuous (E, n, dim) finite reals on each agent's real entries; one-line ValueError naming
    the copy, the agent and what is allowed."""
    spec = core.action_spec
    if not spec.continuous:
        act = check_action_batch(actions, core.agent_ids, core.num_envs, core.n_actions, core.allowed_actions)
        if spec.counts:
            bad = act >= np.asarray(spec.counts)[None, :]
            if bad.any():
                e, i = (int(v) for v in np.argwhere(bad)[0])
                raise ValueError(
                    f"invalid action {int(act[e, i])} for env {e}, {core.agent_ids[i]}; allowed: "
                    f"integers 0..{spec.counts[i] - 1}"
                )
        return act
    a, first_bad = check_box_batch(actions, core.num_envs, core.n_agents, spec.dim, spec.mask)
    if first_bad is not None:
        e, i, j = first_bad
        raise ValueError(
            f"invalid action {a[e, i, j]} for env {e}, {core.agent_ids[i]} (entry {j}); allowed: finite reals"
        )
    return a


class GameStep(NamedTuple):
    """One move of every copy as a game reports it to :class:`BatchedCore`, which adds the envelope (time
    limit, returns, auto-reset) and assembles the :class:`StepResult`."""

    rewards: NDArray[Any]
    """(E, n) per-agent rewards of the move, any real dtype (cast to the core's ``reward_dtype``)."""
    terminated: NDArray[np.bool_]
    """(E, n) the game's own terminal flags per agent; becomes ``StepResult.terminated`` as it is (a fresh
    array)."""
    over: NDArray[np.bool_]
    """(E,) the copies whose episode the game itself ended (the base class adds the time limit)."""
    info: Mapping[str, NDArray[Any]]
    """Game-specific extras of the state reached, arrays shaped (E,) or (E, n) (fresh copies)."""
    truncated: NDArray[np.bool_] | None = None
    """(E, n) the game's own truncation flags (a third-party env's own limit), or None for none."""
    done: NDArray[np.bool_] | None = None
    """(E, n) the game's own per-agent done list (ma-gym's, only read), to which the base class adds the time
    limit; None: ``done`` is a copy of ``terminated`` (the time limit is then not in it)."""

    @classmethod
    def team(
        cls,
        rewards: NDArray[Any],
        over: NDArray[np.bool_],
        info: Mapping[str, NDArray[Any]],
        done: NDArray[np.bool_] | None = None,
    ) -> GameStep:
        """A move after which every agent of a copy ends together, when the copy's episode ends."""
        return cls(rewards, np.repeat(over[:, None], rewards.shape[1], axis=1), over, info, done=done)


class BatchedCore(ABC):
    """The step envelope shared by every batched core: ``num_envs`` copies of one game stepped at once.

    The base class owns what must behave identically in every game: the reset-before-step and episode-over
    checks, the step counters and the time limit ``max_steps`` (truncation), the running per-agent returns,
    the auto-reset of the copies whose episode ended (``final_obs`` keeps the observation before it), the
    assembly of :class:`StepResult`, and the key, dtype and shape checks of ``load_state_dict``. A game
    implements only its own move and reset:

    - :meth:`_step_copies`: one joint action for every copy (``_steps`` already counts this step);
    - :meth:`_reset_copies`: put some copies back into a start state (seeded when a seed is given);
    - :meth:`_observation` and, if cheaper, :meth:`_reset_observation`;
    - :meth:`_state_layout` (and for state not kept in arrays, ``_save_game_state`` / ``_load_game_state``).

    A subclass calls ``super().__init__`` early (it checks the common arguments) and
    :meth:`_allocate_envelope` once ``n_agents`` is known.
    """

    #: Registry id (PettingZoo style).
    env_id: str = ""
    #: Index of this core's first copy in a larger sharded batch (set by SubprocessVectorCore; messages only).
    copy_offset: int = 0
    #: Seed of the first reset when ``reset`` gets none (copy k gets seed + k); unused by deterministic games.
    seed: int = 0
    #: Whether ``state_dict`` / ``load_state_dict`` snapshot the copies exactly (else they raise).
    snapshots: ClassVar[bool] = True
    #: The envelope's arrays in snapshots (attribute ``_<key>``), in the order ``_envelope_state`` lists them.
    _envelope_keys: ClassVar[tuple[str, ...]] = ("steps", "returns", "over", "started")
    #: Snapshot keys whose values the game computes (``_save_game_state``) and restores itself
    #: (``_load_game_state``); every other key of ``_state_layout`` is a live array, saved and restored by
    #: copying.
    _computed_state_keys: ClassVar[tuple[str, ...]] = ()

    num_envs: int
    n_agents: int
    agent_ids: tuple[Any, ...]
    obs_dim: int
    n_actions: int
    action_spec: ActionSpec
    #: How error messages describe the valid actions.
    allowed_actions: str
    #: Time limit in steps (truncation), or None when only the game ends episodes.
    max_steps: int | None
    autoreset: bool
    reward_dtype: np.dtype[Any]

    def __init__(
        self, num_envs: int, *, max_steps: int | None, autoreset: bool, reward_dtype: DTypeLike
    ) -> None:
        """Check and store the arguments every core takes (one-line ValueError for a bad one)."""
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if max_steps is not None and int(max_steps) < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        dtype: np.dtype[Any] = np.dtype(reward_dtype)
        if dtype.kind != "f":
            raise ValueError(f"reward_dtype must be a float dtype, got {dtype}")
        self.num_envs = int(num_envs)
        self.max_steps = None if max_steps is None else int(max_steps)
        self.autoreset = bool(autoreset)
        self.reward_dtype = dtype

    def _allocate_envelope(self, *, started: bool = False) -> None:
        """Create the envelope's arrays for ``num_envs`` copies of ``n_agents`` agents (set ``n_agents``
        first); ``started``: the copies start in a start state, so ``step`` needs no ``reset`` first."""
        e, n = self.num_envs, self.n_agents
        self._rows = np.arange(e)
        self._steps = np.zeros(e, dtype=np.int64)
        self._returns = np.zeros((e, n), dtype=np.float64)
        self._over = np.zeros(e, dtype=np.bool_)
        self._started = np.full(e, started, dtype=np.bool_)

    # ------------------------------------------------------------------ game hooks
    @abstractmethod
    def _step_copies(self, actions: Any) -> GameStep:
        """Apply one checked joint action (from :meth:`check_actions`) to every copy."""

    @abstractmethod
    def _reset_copies(self, rows: NDArray[np.intp], seed: int | None) -> None:
        """Put the copies ``rows`` into a start state; with a ``seed``, copy k is reset with ``seed + k``."""

    @abstractmethod
    def _observation(self, rows: NDArray[np.intp] | None = None) -> NDArray[Any]:
        """Observations (len(rows), n, obs_dim) of the copies ``rows`` (all by default) in their current
        state: a fresh array."""

    def _reset_observation(self, rows: NDArray[np.intp]) -> NDArray[Any]:
        """Observations of the copies ``rows`` right after their reset (a fresh array)."""
        return self._observation(rows)

    def _state_layout(self) -> dict[str, NDArray[Any]]:
        """Every snapshot key, in order, with an array of its dtype and shape: the live array for state kept
        in one (the envelope's come from :meth:`_envelope_state`), a new placeholder for a computed key."""
        raise NotImplementedError(f"{type(self).__name__} cannot snapshot its copies")

    def _save_game_state(self, state: dict[str, NDArray[Any]]) -> None:
        """Write the values of the computed keys (``_computed_state_keys``) into their placeholders."""
        del state

    def _load_game_state(self, values: Mapping[str, NDArray[Any]]) -> None:
        """Restore the computed keys from checked ``values`` (all keys); raise before changing anything."""
        del values

    def _check_open(self) -> None:
        """Raise if the core can no longer step (e.g. its emulators were released); open by default."""
        return None

    def check_actions(self, actions: ArrayLike) -> Any:
        """Validate a joint action batch (E, n) of ints in [0, n_actions); one clear ValueError otherwise."""
        return check_action_batch(
            actions, self.agent_ids, self.num_envs, self.n_actions, self.allowed_actions
        )

    # ------------------------------------------------------------------ public API
    def reset(self, seed: int | None = None) -> NDArray[Any]:
        """Reset every copy and return the observations (E, n, obs_dim).

        Copy k gets ``seed + k``: this call's seed, else the constructor's on the first reset only (later
        seedless resets continue every copy's own randomness).
        """
        self._check_open()
        if seed is None and not self._started.all():
            seed = self.seed
        self._reset_copies(self._rows, seed)
        self._steps[:] = 0
        self._returns[:] = 0.0
        self._over[:] = False
        self._started[:] = True
        return self._reset_observation(self._rows)

    def step(self, actions: ArrayLike) -> StepResult:
        """Advance every copy by one joint action; auto-reset copies whose episode ended."""
        self._check_open()
        if not self._started.all():
            raise ValueError("call reset() before step()")
        if not self.autoreset and self._over.any():
            bad = (np.flatnonzero(self._over) + self.copy_offset).tolist()
            raise ValueError(f"episode is over in env copies {bad} (autoreset=False); call reset() first")
        act = self.check_actions(actions)
        self._steps += 1
        game = self._step_copies(act)
        rewards = np.asarray(game.rewards).astype(self.reward_dtype, copy=False)
        self._returns += rewards
        if self.max_steps is None:
            time_up = np.zeros(self.num_envs, dtype=np.bool_)
        else:
            time_up = self._steps >= self.max_steps
        over = game.over | time_up
        final_obs = self._observation()
        terminated = game.terminated
        limit = time_up[:, None] if game.truncated is None else game.truncated | time_up[:, None]
        done = terminated.copy() if game.done is None else game.done | time_up[:, None]
        result = StepResult(
            obs=final_obs,
            rewards=rewards,
            terminated=terminated,
            truncated=limit & ~terminated,
            episode_over=over,
            final_obs=final_obs,
            done=done,
            episode_return=self._returns.copy(),
            episode_length=self._steps.copy(),
            info=game.info,
        )
        if over.any():
            if self.autoreset:
                ended = np.flatnonzero(over)
                self._reset_copies(ended, None)
                self._steps[ended] = 0
                self._returns[ended] = 0.0
                obs = final_obs.copy()
                obs[ended] = self._reset_observation(ended)
                result = result._replace(obs=obs)
            else:
                self._over |= over
        return result

    def state_dict(self) -> dict[str, NDArray[Any]]:
        """Copies of everything a bit-identical continuation needs, as arrays with a leading copy axis.

        Together with the policy's RNG this is what a checkpoint needs to resume training bit-identically:
        episodes in flight continue exactly where they were instead of restarting.
        """
        computed = self._computed_state_keys
        layout = self._state_layout()
        state = {key: value if key in computed else value.copy() for key, value in layout.items()}
        self._save_game_state(state)
        return state

    def load_state_dict(self, state: Mapping[str, ArrayLike]) -> None:
        """Restore a :meth:`state_dict` of a core built with the same arguments (values are copied in).

        Arrays are overwritten in place because some have views (e.g. a flat view of the board) that must stay
        valid. Every key is checked before anything is written, so a bad snapshot leaves the core unchanged.
        """
        layout = self._state_layout()
        unknown = sorted(set(state) - set(layout), key=str)
        if unknown:
            raise ValueError(f"unknown state key {unknown[0]!r} for {self.env_id}; expected {sorted(layout)}")
        values: dict[str, NDArray[Any]] = {}
        for key, target in layout.items():
            if key not in state:
                raise ValueError(f"missing state key {key!r} for {self.env_id}; expected {sorted(layout)}")
            value = np.asarray(state[key])
            if value.shape != target.shape or value.dtype != target.dtype:
                raise ValueError(
                    f"state key {key!r} must be {target.dtype} of shape {target.shape}, "
                    f"got {value.dtype} of shape {value.shape}"
                )
            values[key] = value
        self._load_game_state(values)
        for key, target in layout.items():
            if key not in self._computed_state_keys:
                np.copyto(target, values[key])

    def close(self) -> None:
        """Release what the copies hold (simulators, emulators); nothing by default."""
        return None

    # ------------------------------------------------------------------ helpers
    def _envelope_state(self) -> dict[str, NDArray[Any]]:
        """The envelope's live arrays by snapshot key, for :meth:`_state_layout`."""
        return {key: getattr(self, f"_{key}") for key in self._envelope_keys}

    def _check_env_index(self, env_index: int) -> int:
        if not 0 <= int(env_index) < self.num_envs:
            raise ValueError(f"env_index {env_index} out of range; allowed 0..{self.num_envs - 1}")
        return int(env_index)


class VectorCore(BatchedCore):
    """Base class of a batched game with a fixed start state (grid worlds, repeated matrix games).

    Subclasses keep their state in arrays with a leading ``num_envs`` axis, name every array that stepping
    mutates in ``_state_fields`` (so that :meth:`state_dict` can snapshot it) and implement the abstract
    hooks. ``step`` works in place on that state and allocates only its outputs. The copies start in the
    start state, so ``step`` needs no ``reset`` first.
    """

    #: Attribute names of the game's mutable state arrays (restored in place by ``load_state_dict``).
    _state_fields: ClassVar[tuple[str, ...]] = ()
    #: The episode bookkeeping every core mutates (the copies never need a first reset).
    _envelope_keys: ClassVar[tuple[str, ...]] = ("steps", "returns", "over")

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
        super().__init__(num_envs, max_steps=max_steps, autoreset=autoreset, reward_dtype=reward_dtype)
        self.n_agents = int(n_agents)
        self.n_actions = int(n_actions)
        self.action_spec = ActionSpec.discrete(self.n_actions)
        #: How error messages describe the valid actions.
        self.allowed_actions = allowed_actions
        self.full_observable = bool(full_observable)
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
        self._allocate_envelope(started=True)
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

    def reset(self, seed: int | None = None) -> NDArray[np.float32]:
        """Reset every copy and return the observations (E, n, obs_dim).

        ``seed`` is accepted for API symmetry only: the games are deterministic (fixed start state, no
        noise), exactly as in ma-gym, so all randomness comes from the policies.
        """
        return super().reset(seed)

    def current_info(self) -> dict[str, NDArray[Any]]:
        """Game-specific extras of the current state (e.g. right after reset)."""
        return self._info()

    # ------------------------------------------------------------------ BatchedCore hooks
    def _step_copies(self, actions: NDArray[np.intp]) -> GameStep:
        rewards, game_done, game_over = self._advance(actions)
        # ma-gym marks every agent done when the step counter reaches max_steps (the base class adds it).
        return GameStep.team(rewards, game_over, self._info(), done=game_done)

    def _reset_copies(self, rows: NDArray[np.intp], seed: int | None) -> None:
        del seed  # a fixed start state
        if len(rows) == self.num_envs:
            self._reset_state(self._all)
        else:
            mask = np.zeros(self.num_envs, dtype=np.bool_)
            mask[rows] = True
            self._reset_state(mask)

    def _observation(self, rows: NDArray[np.intp] | None = None) -> NDArray[np.float32]:
        obs = self._full(self._observe())
        return obs if rows is None else obs[rows]

    def _reset_observation(self, rows: NDArray[np.intp]) -> NDArray[np.float32]:
        return np.broadcast_to(self._reset_obs, (len(rows), self.n_agents, self.obs_dim)).copy()

    def _state_layout(self) -> dict[str, NDArray[Any]]:
        fields = {name.lstrip("_"): getattr(self, name) for name in self._state_fields}
        return {**self._envelope_state(), **fields}

    # ------------------------------------------------------------------ helpers
    def _full(self, local: NDArray[np.float32]) -> NDArray[np.float32]:
        """Tile local observations into the fully observable layout when asked to."""
        if not self.full_observable:
            return local
        flat = local.reshape(self.num_envs, 1, self.obs_dim)
        return np.repeat(flat, self.n_agents, axis=1)


class GridCore(VectorCore):
    """Base class of a batched grid world: a :class:`VectorCore` with a board shape and frames."""

    #: Grid shape (rows, cols).
    shape: tuple[int, int] = (0, 0)

    @abstractmethod
    def render_rgb(self, env_index: int = 0) -> NDArray[np.uint8]:
        """Draw copy ``env_index`` as an (H, W, 3) uint8 image."""
