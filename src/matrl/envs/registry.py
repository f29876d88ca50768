"""Versioned ids of the environments and their constructors (PettingZoo env or batched core)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from matrl.envs.checkers import CheckersCore
from matrl.envs.core import VectorCore
from matrl.envs.matrix import ENV_ID as MATRIX_ENV_ID
from matrl.envs.matrix import make_matrix_core
from matrl.envs.parallel import CoreParallelEnv
from matrl.envs.switch import SwitchCore

# id -> core constructor with the ma-gym registration's defaults (reference section 2) bound.
_GRID_CORES: dict[str, Callable[..., VectorCore]] = {
    "checkers_v0": CheckersCore,
    "switch2_v0": partial(SwitchCore, n_agents=2),
    "switch4_v0": partial(SwitchCore, n_agents=4),
}
_CORES: dict[str, Callable[..., VectorCore]] = {**_GRID_CORES, MATRIX_ENV_ID: make_matrix_core}
#: The grid worlds (ma-gym ports): the ids that have frames and a literal reference implementation.
GRID_ENV_IDS: tuple[str, ...] = tuple(_GRID_CORES)
#: Known environment ids.
ENV_IDS: tuple[str, ...] = tuple(_CORES)


def _core_factory(env_id: str) -> Callable[..., VectorCore]:
    try:
        return _CORES[env_id]
    except (KeyError, TypeError):
        raise ValueError(f"unknown env id {env_id!r}; known ids: {', '.join(ENV_IDS)}") from None


def make_vector_env(env_id: str, num_envs: int, **kwargs: Any) -> VectorCore:
    """Batched core stepping ``num_envs`` copies.

    kwargs for the grid worlds: ``full_observable``, ``step_cost``, ``max_steps``, ``autoreset``,
    ``reward_dtype``, and for Switch ``phantom_blockers`` and ``arrival_reward``. For ``matrix_v0``:
    ``game`` (a name of :data:`matrl.matrixgames.games.NAMED_GAMES`, default ``"stag_hunt"``) or ``payoffs``
    (an (n, K, ..., K) array), ``episode_length``, ``terminate_at_end``, ``autoreset``, ``reward_dtype``.
    """
    return _core_factory(env_id)(num_envs=num_envs, **kwargs)


def make_env(env_id: str, render_mode: str | None = None, **kwargs: Any) -> CoreParallelEnv:
    """PettingZoo ``ParallelEnv`` over one copy; kwargs as for :func:`make_vector_env` (not ``num_envs``)."""
    factory = _core_factory(env_id)
    fixed = sorted(set(kwargs) & {"num_envs", "autoreset", "reward_dtype"})
    if fixed:
        raise ValueError(
            f"make_env sets {fixed} itself (one copy, no auto-reset, float64 rewards); drop them"
        )
    return CoreParallelEnv(partial(factory, **kwargs), render_mode=render_mode)
