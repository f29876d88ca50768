"""A repeated normal-form (matrix) game as a batched core, so deep MATRL can be run on a one-state game.

Every step each of the n players picks one of K actions and gets its own entry of the payoff tensor for the
joint action. There is one state: every observation is the constant ``[1.0]``. The game itself never ends, so
by default an episode is cut after ``episode_length`` steps and reported as a **truncation** (``truncated``):
a learner bootstraps there exactly as at a grid world's time limit, i.e. it learns the value of the infinitely
repeated game under its own discount. ``terminate_at_end=True`` reports the cut as a **termination** instead,
making the game a finite one of ``episode_length`` rounds (with ``episode_length=1``: the one-shot game, whose
values are the expected payoffs the exact matrix-game study uses).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from matrl.envs.core import VectorCore
from matrl.matrixgames.games import NAMED_GAMES

ENV_ID = "matrix_v0"
DEFAULT_GAME = "stag_hunt"
OBS_DIM = 1
OBS_LOW = np.zeros(OBS_DIM, dtype=np.float32)
OBS_HIGH = np.ones(OBS_DIM, dtype=np.float32)


def check_payoffs(payoffs: ArrayLike) -> NDArray[np.float64]:
    """A read-only float64 copy of a payoff tensor of shape (n, K, ..., K); one-line ValueError otherwise."""
    raw = np.asarray(payoffs)
    if raw.dtype.kind not in "iuf":
        raise ValueError(f"payoffs must be a real numeric array, got dtype {raw.dtype}")
    p = raw.astype(np.float64)  # always a copy, so later changes to the caller's array do not leak in
    n = p.shape[0] if p.ndim else 0
    if p.ndim < 2 or n != p.ndim - 1:
        raise ValueError(
            f"payoffs must have shape (n, K, ..., K) with one K axis per player (n = ndim - 1), got shape "
            f"{p.shape}"
        )
    k = p.shape[1]
    if k < 1 or any(dim != k for dim in p.shape[1:]):
        raise ValueError(f"payoffs must give every player the same K >= 1 actions, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("payoffs must be finite (no nan or inf)")
    p.flags.writeable = False
    return p


class MatrixGameCore(VectorCore):
    """``num_envs`` copies of a repeated n-player, K-action normal-form game (see the module docstring).

    ``payoffs[i, a_0, ..., a_{n-1}]`` is player i's reward for the joint action. Agents are ``agent_0`` ..
    ``agent_{n-1}`` in player order, actions ``0 .. K-1``. ``info`` is empty; ``done`` is set for every agent
    on the last step of an episode. ``state_dict`` holds only the
    episode bookkeeping (step counters, running returns), since the game has no other state.
    """

    env_id = ENV_ID

    def __init__(
        self,
        num_envs: int,
        payoffs: ArrayLike,
        episode_length: int = 1,
        autoreset: bool = True,
        reward_dtype: DTypeLike = np.float32,
        terminate_at_end: bool = False,
    ) -> None:
        self.payoffs = check_payoffs(payoffs)
        n, k = self.payoffs.shape[0], self.payoffs.shape[1]
        if int(episode_length) < 1:
            raise ValueError(f"episode_length must be >= 1, got {episode_length}")
        self.episode_length = int(episode_length)
        self.terminate_at_end = bool(terminate_at_end)
        # Row j: every player's reward for the j-th joint action in C order; cast once, not per step.
        self._table = np.ascontiguousarray(self.payoffs.reshape(n, -1).T).astype(np.dtype(reward_dtype))
        self._action_shape = (k,) * n
        super().__init__(
            num_envs,
            n,
            OBS_DIM,
            OBS_LOW,
            OBS_HIGH,
            max_steps=self.episode_length,
            full_observable=False,
            autoreset=autoreset,
            reward_dtype=reward_dtype,
            n_actions=k,
            allowed_actions=f"integers 0..{k - 1}",
        )

    def _allocate(self) -> None:
        self._never = np.zeros((self.num_envs, self.n_agents), dtype=np.bool_)

    def _reset_state(self, mask: NDArray[np.bool_]) -> None:
        """Nothing to reset: the game has a single state."""

    def _advance(
        self, actions: NDArray[np.intp]
    ) -> tuple[NDArray[np.floating[Any]], NDArray[np.bool_], NDArray[np.bool_]]:
        joint = np.ravel_multi_index(tuple(actions.T), self._action_shape)
        # The base class truncates at max_steps = episode_length unless the game reports its own end here.
        game_over = self._steps >= self.episode_length if self.terminate_at_end else self._never[:, 0]
        return self._table[joint], self._never, game_over

    def _observe(self) -> NDArray[np.float32]:
        return np.ones((self.num_envs, self.n_agents, OBS_DIM), dtype=np.float32)

    def _info(self) -> dict[str, NDArray[Any]]:
        return {}


def make_matrix_core(
    num_envs: int,
    *,
    game: str | None = None,
    payoffs: ArrayLike | None = None,
    episode_length: int = 1,
    terminate_at_end: bool = False,
    autoreset: bool = True,
    reward_dtype: DTypeLike = np.float32,
) -> MatrixGameCore:
    """The ``matrix_v0`` core: a named game of :mod:`matrl.matrixgames.games` (default ``stag_hunt``) or
    explicit ``payoffs``, not both."""
    return MatrixGameCore(
        num_envs,
        stage_payoffs(game, payoffs),
        episode_length=episode_length,
        autoreset=autoreset,
        reward_dtype=reward_dtype,
        terminate_at_end=terminate_at_end,
    )


def stage_payoffs(game: str | None = None, payoffs: ArrayLike | None = None) -> NDArray[np.float64]:
    """The payoff tensor ``matrix_v0`` plays for these kwargs: a named game (default ``stag_hunt``) or
    explicit ``payoffs``, not both."""
    if payoffs is not None and game is not None:
        raise ValueError(f"pass either game={game!r} or payoffs=..., not both")
    if payoffs is None:
        name = DEFAULT_GAME if game is None else game
        if not isinstance(name, str) or name not in NAMED_GAMES:
            raise ValueError(f"unknown game {name!r}; allowed: {', '.join(NAMED_GAMES)}")
        payoffs = NAMED_GAMES[name]
    return check_payoffs(payoffs)


def stage_regrets(payoffs: ArrayLike, probs: ArrayLike) -> NDArray[np.float64]:
    """(n,) each player's regret in the one-shot game when every player i mixes with ``probs[i]`` (K,).

    Their sum is the NashConv of the learned policies: 0 exactly at a Nash equilibrium of the stage game.
    """
    table = check_payoffs(payoffs)
    mix = np.asarray(probs, dtype=np.float64)
    n = table.shape[0]
    out = np.empty(n)
    for i in range(n):
        values = table[i]
        # Contract every other player's axis with its mixed strategy, highest axis first.
        for j in reversed(range(n)):
            if j != i:
                values = np.tensordot(values, mix[j], axes=([j], [0]))
        out[i] = values.max() - values @ mix[i]
    return out
