"""Versioned ids of the environments and their constructors (PettingZoo env or batched core)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeAlias

from matrl.envs.checkers import CheckersCore
from matrl.envs.core import VectorCore
from matrl.envs.matrix import ENV_ID as MATRIX_ENV_ID
from matrl.envs.matrix import make_matrix_core
from matrl.envs.parallel import CoreParallelEnv
from matrl.envs.subprocess_core import SubprocessVectorCore
from matrl.envs.switch import SwitchCore

if TYPE_CHECKING:
    from matrl.envs.mamujoco import MaMuJoCoCore, MaMuJoCoParallelEnv
    from matrl.envs.pong import PongCore, PongParallelEnv

#: What ``make_vector_env`` returns: a numpy core, a MuJoCo or Pong core, or copies sharded over processes.
AnyCore: TypeAlias = "VectorCore | MaMuJoCoCore | PongCore | SubprocessVectorCore"

# id -> core constructor with the ma-gym registration's defaults (reference section 2) bound.
_GRID_CORES: dict[str, Callable[..., VectorCore]] = {
    "checkers_v0": CheckersCore,
    "switch2_v0": partial(SwitchCore, n_agents=2),
    "switch4_v0": partial(SwitchCore, n_agents=4),
}
_CORES: dict[str, Callable[..., VectorCore]] = {**_GRID_CORES, MATRIX_ENV_ID: make_matrix_core}
#: The grid worlds (ma-gym ports): the ids that have frames and a literal reference implementation.
GRID_ENV_IDS: tuple[str, ...] = tuple(_GRID_CORES)
#: Multi-agent MuJoCo ids and their (scenario, agent_conf); ``mamujoco`` takes both as kwargs.
_MUJOCO: dict[str, tuple[str, str | None] | None] = {
    "hopper_3x1": ("Hopper", "3x1"),
    "ant_4x2": ("Ant", "4x2"),
    "mamujoco": None,
}
#: The multi-agent MuJoCo ids (continuous actions; gymnasium-robotics is imported only when one is built).
MUJOCO_ENV_IDS: tuple[str, ...] = tuple(_MUJOCO)
#: Two-player Atari Pong (PettingZoo pong_v3; the emulator is imported only when one is built).
PONG_ENV_IDS: tuple[str, ...] = ("pong_v3",)
#: Known environment ids.
ENV_IDS: tuple[str, ...] = (*_CORES, *MUJOCO_ENV_IDS, *PONG_ENV_IDS)


def _core_factory(env_id: str) -> Callable[..., VectorCore]:
    try:
        return _CORES[env_id]
    except (KeyError, TypeError):
        raise ValueError(f"unknown env id {env_id!r}; known ids: {', '.join(ENV_IDS)}") from None


def _mujoco_args(env_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """kwargs with the id's scenario and agent_conf filled in (a registered id fixes them)."""
    fixed = _MUJOCO[env_id]
    if fixed is None:
        return kwargs
    given = sorted(set(kwargs) & {"scenario", "agent_conf"})
    if given:
        raise ValueError(f"{env_id} fixes scenario and agent_conf {fixed}; drop {given} or use 'mamujoco'")
    return {"scenario": fixed[0], "agent_conf": fixed[1], **kwargs}


def _bound_kwargs(env_id: str) -> dict[str, Any]:
    """The kwargs a built-in id fixes: n_agents of ``switch2_v0``, scenario and agent_conf of ``ant_4x2``."""
    core = _GRID_CORES.get(env_id)
    if isinstance(core, partial):
        return dict(core.keywords)
    fixed = _MUJOCO.get(env_id)
    return {"scenario": fixed[0], "agent_conf": fixed[1]} if fixed else {}


def _built_in_constructor(env_id: str) -> Callable[..., Any]:
    if env_id in _MUJOCO:
        from matrl.envs.mamujoco import MaMuJoCoCore

        return MaMuJoCoCore
    if env_id in PONG_ENV_IDS:
        from matrl.envs.pong import PongCore

        return PongCore
    return _CORES[env_id]


def check_env_kwargs(env_id: str, kwargs: dict[str, Any]) -> None:
    """One-line ValueError for env kwargs of a built-in id that change the game its id names (a run records
    only the id) or that its constructor does not take (which would otherwise fail later, in a traceback).

    Other ids (third-party, registered, unknown) are left to their own checks.
    """
    if not isinstance(env_id, str) or env_id not in ENV_IDS:
        return
    bound = _bound_kwargs(env_id)
    fixed = sorted(set(kwargs) & set(bound))
    if fixed:
        func = getattr(_GRID_CORES.get(env_id), "func", None)
        family = (
            _MUJOCO
            if env_id in _MUJOCO
            else [i for i, c in _GRID_CORES.items() if getattr(c, "func", None) is func]
        )
        others = [i for i in family if i != env_id]
        raise ValueError(
            f"env_kwargs {fixed} are not allowed with {env_id}: the id fixes "
            f"{', '.join(f'{k}={v!r}' for k, v in bound.items())}; drop them or use {' or '.join(others)}"
        )
    params = inspect.signature(_built_in_constructor(env_id)).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return  # the MuJoCo core passes further kwargs on to gymnasium-robotics, which checks them
    accepted = [
        p.name
        for p in params
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name != "num_envs"
        and p.name not in bound
    ]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"env_kwargs {unknown} are not accepted by {env_id}; it accepts {', '.join(accepted)}"
        )


def make_vector_env(env_id: str, num_envs: int, *, num_workers: int = 1, **kwargs: Any) -> AnyCore:
    """Batched core stepping ``num_envs`` copies.

    kwargs for the grid worlds: ``full_observable``, ``step_cost``, ``max_steps``, ``autoreset``,
    ``reward_dtype``, and for Switch ``phantom_blockers`` and ``arrival_reward``. For ``matrix_v0``:
    ``game`` (a name of :data:`matrl.matrixgames.games.NAMED_GAMES`, default ``"stag_hunt"``) or ``payoffs``
    (an (n, K, ..., K) array), ``episode_length``, ``terminate_at_end``, ``autoreset``, ``reward_dtype``.
    For the MuJoCo ids: those of :class:`matrl.envs.mamujoco.MaMuJoCoCore` (``observation``, ``agent_obsk``,
    ``max_steps``, ``seed``, ...; ``scenario`` and ``agent_conf`` for ``mamujoco``), and ``num_workers`` > 1
    shards the copies over that many processes (:class:`SubprocessVectorCore`, same numbers). For
    ``pong_v3``: those of :class:`matrl.envs.pong.PongCore` (``preprocessing``, ``max_steps``, ``seed``,
    ...), and ``num_workers`` as for MuJoCo.
    """
    if isinstance(env_id, str) and env_id in _MUJOCO:
        from matrl.envs.mamujoco import MaMuJoCoCore

        args = _mujoco_args(env_id, kwargs)
        if num_workers > 1:
            return SubprocessVectorCore(MaMuJoCoCore, num_envs, num_workers, **args)
        return MaMuJoCoCore(num_envs, **args)
    if isinstance(env_id, str) and env_id in PONG_ENV_IDS:
        from matrl.envs.pong import PongCore

        if num_workers > 1:
            return SubprocessVectorCore(PongCore, num_envs, num_workers, **kwargs)
        return PongCore(num_envs, **kwargs)
    if num_workers != 1:
        raise ValueError(
            f"num_workers={num_workers} is not allowed for {env_id}; worker processes are for MuJoCo and Pong"
        )
    return _core_factory(env_id)(num_envs=num_envs, **kwargs)


def make_env(
    env_id: str, render_mode: str | None = None, **kwargs: Any
) -> CoreParallelEnv | MaMuJoCoParallelEnv | PongParallelEnv:
    """PettingZoo ``ParallelEnv`` over one copy; kwargs as for :func:`make_vector_env` (not ``num_envs``)."""
    if isinstance(env_id, str) and env_id in _MUJOCO:
        from matrl.envs.mamujoco import MaMuJoCoParallelEnv

        fixed = sorted(set(kwargs) & {"num_envs", "num_workers", "autoreset", "reward_dtype"})
        if fixed:
            raise ValueError(
                f"make_env sets {fixed} itself (one copy, no auto-reset, float64 rewards); drop them"
            )
        return MaMuJoCoParallelEnv(render_mode=render_mode, **_mujoco_args(env_id, kwargs))
    if isinstance(env_id, str) and env_id in PONG_ENV_IDS:
        from matrl.envs.pong import PongParallelEnv

        return PongParallelEnv(render_mode=render_mode, **kwargs)
    factory = _core_factory(env_id)
    fixed = sorted(set(kwargs) & {"num_envs", "autoreset", "reward_dtype"})
    if fixed:
        raise ValueError(
            f"make_env sets {fixed} itself (one copy, no auto-reset, float64 rewards); drop them"
        )
    return CoreParallelEnv(partial(factory, **kwargs), render_mode=render_mode)
