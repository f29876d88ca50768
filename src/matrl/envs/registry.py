"""Versioned ids of the environments and their constructors (PettingZoo env or batched core).

Besides the built-in ids, third-party PettingZoo envs have ids too, all stepped by the adapter
(`matrl.envs.pettingzoo_adapter.ParallelEnvVectorCore`):

- ``pettingzoo:PACKAGE.MODULE[:FACTORY]``, e.g. ``pettingzoo:mpe2.simple_spread_v3``: the module's
  ``parallel_env`` (or FACTORY), imported when the env is built, so the id works in a fresh process
  (``matrl evaluate``, ``--resume``);
- a name given to :func:`register_env` in this process, or by an installed package's entry point in the
  ``matrl.envs`` group (``name = "package.module:factory"``), which makes it known to every process.

Their env kwargs go to the factory, except the adapter's own: ``seed`` (copy k is first reset with seed + k;
training sets it to the run's seed) and ``one_hot_agent_id`` (append each agent's index, one-hot, to its
observation).

What an id supports (snapshots, seeding, frames, worker processes, image observations, action kind, Ray) is
one :class:`EnvCapabilities` per registry entry; commands read it with :func:`env_capabilities` instead of
keeping lists of ids.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pickle
import re
import sys
from collections.abc import Callable, Mapping
from functools import partial
from importlib import metadata
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from pettingzoo import ParallelEnv

from matrl.envs.checkers import CheckersCore
from matrl.envs.core import VectorCore
from matrl.envs.matrix import ENV_ID as MATRIX_ENV_ID
from matrl.envs.matrix import make_matrix_core
from matrl.envs.parallel import CoreParallelEnv
from matrl.envs.pettingzoo_adapter import ParallelEnvVectorCore
from matrl.envs.subprocess_core import SubprocessVectorCore
from matrl.envs.switch import SwitchCore
from matrl.envs.vmas_core import VMAS_PREFIX, VmasCore, scenario_name

if TYPE_CHECKING:
    from matrl.envs.mamujoco import MaMuJoCoCore, MaMuJoCoParallelEnv
    from matrl.envs.pong import PongCore, PongParallelEnv

#: What ``make_vector_env`` returns: a numpy core, a MuJoCo or Pong core, or copies sharded over processes.
AnyCore: TypeAlias = (
    "VectorCore | MaMuJoCoCore | PongCore | SubprocessVectorCore | ParallelEnvVectorCore | VmasCore"
)

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


@dataclasses.dataclass(frozen=True)
class EnvCapabilities:
    """What an env id supports: the flags the commands read instead of lists of ids."""

    snapshots: bool
    """``state_dict``/``load_state_dict`` are exact, so ``--resume`` continues the episodes bit-identically
    (else a resume restarts them from a derived seed)."""
    seeding: bool
    """The core takes a ``seed`` kwarg (copy k is first reset with seed + k); False: the game is
    deterministic and takes no seed."""
    frames: bool
    """It draws RGB frames (``make_env(..., render_mode="rgb_array")``); a third-party env is asked for them
    (its factory gets ``render_mode="rgb_array"``) and refused in one line when its metadata's
    ``render_modes`` lack ``rgb_array``."""
    worker_processes: bool
    """``num_workers`` > 1 (``--env-workers``) shards its copies over processes (SubprocessVectorCore); a
    third-party id has it when a spawned worker can rebuild its factory (always for ``pettingzoo:`` ids and
    entry points; for a :func:`register_env` name when its factory pickles by reference, e.g. a function of
    an importable module, not a lambda or a local function)."""
    image_obs: bool
    """Observations are uint8 images (``obs_shape`` (C, H, W), flattened); networks default to a CNN."""
    action_kind: Literal["discrete", "continuous"] | None
    """Discrete or continuous actions; None when known only once the env is built (third-party envs)."""
    ray_rollout: bool
    """Ray workers can collect from it (``--rollout ray``): every id but VMAS's (one torch batch in the
    training process); a :func:`register_env` factory travels to the Ray workers with Ray's (cloud)pickle."""


_GRID_CAPABILITIES = EnvCapabilities(
    snapshots=True,
    seeding=False,
    frames=True,
    worker_processes=False,
    image_obs=False,
    action_kind="discrete",
    ray_rollout=True,
)
#: The flags of every built-in registry entry; third-party ids all have :data:`THIRD_PARTY_CAPABILITIES`.
_CAPABILITIES: dict[str, EnvCapabilities] = {
    **dict.fromkeys(GRID_ENV_IDS, _GRID_CAPABILITIES),
    MATRIX_ENV_ID: dataclasses.replace(_GRID_CAPABILITIES, frames=False),
    **dict.fromkeys(
        MUJOCO_ENV_IDS,
        dataclasses.replace(
            _GRID_CAPABILITIES, seeding=True, frames=False, worker_processes=True, action_kind="continuous"
        ),
    ),
    **dict.fromkeys(
        PONG_ENV_IDS,
        dataclasses.replace(_GRID_CAPABILITIES, seeding=True, worker_processes=True, image_obs=True),
    ),
}
#: Any PettingZoo env behind the adapter: seeded through its first reset, no snapshots, frames when it draws
#: ``rgb_array``, worker processes when a worker can rebuild its factory, Ray workers.
THIRD_PARTY_CAPABILITIES = EnvCapabilities(
    snapshots=False,
    seeding=True,
    frames=True,
    worker_processes=True,
    image_obs=False,
    action_kind=None,
    ray_rollout=True,
)

#: VMAS scenarios (``vmas:SCENARIO``, `matrl.envs.vmas_core`): one torch batch seeded as a whole, no
#: snapshots, in this process; the action kind follows the ``continuous_actions`` env kwarg.
VMAS_CAPABILITIES = EnvCapabilities(
    snapshots=False,
    seeding=True,
    frames=False,
    worker_processes=False,
    image_obs=False,
    action_kind="discrete",
    ray_rollout=False,
)


#: Prefix of the ids that name a PettingZoo module: ``pettingzoo:PACKAGE.MODULE[:FACTORY]``.
PETTINGZOO_PREFIX = "pettingzoo:"
#: Env kwargs of a third-party id that configure the adapter; the others go to the env's factory.
ADAPTER_KWARGS: tuple[str, ...] = ("seed", "one_hot_agent_id")
#: Entry-point group through which an installed package registers env ids for every process.
ENTRY_POINT_GROUP = "matrl.envs"
_MODULE_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_REGISTERED: dict[str, Callable[..., Any]] = {}


def register_env(name: str, factory: Callable[..., Any]) -> None:
    """Give a PettingZoo ``ParallelEnv`` factory an id that `matrl.training.train`, evaluation and resume
    accept in this process (``factory(**env_kwargs)`` builds one copy; registering a name again replaces it).

    For the command line, in a fresh process, use ``pettingzoo:PACKAGE.MODULE:FACTORY`` or an entry point in
    the ``matrl.envs`` group instead.
    """
    if not isinstance(name, str) or not name.strip() or name != name.strip() or ":" in name:
        raise ValueError(
            f"env name {name!r} is not allowed; expected a non-empty string without ':' or spaces"
        )
    if name in ENV_IDS:
        raise ValueError(f"env name {name!r} is not allowed: it is a built-in id ({', '.join(ENV_IDS)})")
    if not callable(factory):
        raise ValueError(f"factory {factory!r} for env {name!r} is not allowed; expected a callable")
    _REGISTERED[name] = factory


def env_ids() -> tuple[str, ...]:
    """The built-in ids, then those registered in this process or by entry points."""
    points = tuple(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))
    return (*ENV_IDS, *dict.fromkeys([*_REGISTERED, *points]))


def registered_factory(env_id: str) -> Callable[..., Any] | None:
    """The factory :func:`register_env` gave ``env_id`` in this process, or None (built-in, module and
    entry-point ids are rebuilt from the id alone), for handing to another process (a Ray worker)."""
    return _REGISTERED.get(env_id) if isinstance(env_id, str) else None


def registered_in_process(env_id: str) -> bool:
    """Whether ``env_id`` was given to :func:`register_env` in this process (so another process, such as a
    Ray worker, does not know it unless an entry point names it too)."""
    return isinstance(env_id, str) and env_id in _REGISTERED


def is_third_party(env_id: str) -> bool:
    """Whether ``env_id`` is stepped through the PettingZoo adapter (a module id or a registered name)."""
    if not isinstance(env_id, str) or env_id in ENV_IDS:
        return False
    return env_id.startswith(PETTINGZOO_PREFIX) or env_id in env_ids()


def check_env_id(env_id: str) -> None:
    """One-line ValueError unless ``env_id`` is built in, registered, or spelt ``pettingzoo:MODULE[:FACTORY]``
    (the module is imported only when the env is built), or ``vmas:SCENARIO`` naming a VMAS scenario."""
    if isinstance(env_id, str) and env_id.startswith(VMAS_PREFIX):
        scenario_name(env_id)
        return
    if isinstance(env_id, str) and (env_id in ENV_IDS or is_third_party(env_id)):
        if env_id.startswith(PETTINGZOO_PREFIX):
            _split_module_id(env_id)
        return
    raise ValueError(
        f"unknown env id {env_id!r}; known ids: {', '.join(env_ids())}, or {PETTINGZOO_PREFIX}"
        f"PACKAGE.MODULE[:FACTORY] for any PettingZoo ParallelEnv, or {VMAS_PREFIX}SCENARIO for VMAS"
    )


def env_capabilities(env_id: str, env_kwargs: Mapping[str, Any] | None = None) -> EnvCapabilities:
    """The flags of ``env_id`` (one-line ValueError for an unknown id, as :func:`check_env_id`).

    ``env_kwargs`` are the run's env kwargs, for flags that may depend on them; no flag of a registered id
    does today, and a third-party id's action kind is known only once it is built. A :func:`register_env`
    name whose factory a worker process cannot rebuild has ``worker_processes`` False.
    """
    if isinstance(env_id, str) and env_id.startswith(VMAS_PREFIX):
        check_env_id(env_id)
        continuous = bool((env_kwargs or {}).get("continuous_actions", False))
        return dataclasses.replace(VMAS_CAPABILITIES, action_kind="continuous" if continuous else "discrete")
    del env_kwargs
    if isinstance(env_id, str) and env_id in _CAPABILITIES:
        return _CAPABILITIES[env_id]
    check_env_id(env_id)
    if env_id in _REGISTERED and worker_refusal(env_id) is not None:
        return dataclasses.replace(THIRD_PARTY_CAPABILITIES, worker_processes=False)
    return THIRD_PARTY_CAPABILITIES


def worker_refusal(env_id: str) -> str | None:
    """Why a spawned worker process cannot rebuild a :func:`register_env` factory, or None when it can.

    A worker starts with a fresh interpreter: ``pettingzoo:`` ids and entry points are imported again there,
    while a registered factory is sent pickled, which works by reference for a module-level function or class
    of an importable module (the script run as ``__main__`` included) and by value for a picklable object, but
    not for a lambda, a local function or a function typed into an interactive session.
    """
    factory = _REGISTERED.get(env_id)
    if factory is None:
        return None
    hint = "register a module-level function, or use pettingzoo:PACKAGE.MODULE:FACTORY or an entry point"
    try:
        pickle.dumps(factory, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as err:  # what fails to pickle raises anything (PicklingError, AttributeError, ...)
        why = f"{type(err).__name__}: {' '.join(str(err).split())}"
        return f"its factory {_name(factory)} cannot be sent to a worker process ({why}); {hint}"
    main = sys.modules["__main__"]
    if getattr(factory, "__module__", None) == "__main__" and not getattr(main, "__file__", None):
        return (
            f"its factory {_name(factory)} is defined in an interactive session, unknown to workers; {hint}"
        )
    return None


def _name(factory: Callable[..., Any]) -> str:
    return f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', type(factory).__name__)}"


def env_ids_with(flag: str) -> tuple[str, ...]:
    """The built-in ids whose capability ``flag`` (a field of :class:`EnvCapabilities`) is set, in order."""
    names = [field.name for field in dataclasses.fields(EnvCapabilities)]
    if flag not in names:
        raise ValueError(f"unknown capability {flag!r}; allowed: {', '.join(names)}")
    return tuple(env_id for env_id in ENV_IDS if getattr(_CAPABILITIES[env_id], flag))


def _split_module_id(env_id: str) -> tuple[str, str]:
    """(module, factory name) of a ``pettingzoo:`` id; one line if it is not spelt as one."""
    module, _, attr = env_id[len(PETTINGZOO_PREFIX) :].partition(":")
    attr = attr or "parallel_env"
    if not _MODULE_PATH.match(module) or not attr.isidentifier():
        raise ValueError(
            f"env id {env_id!r} is not allowed; expected {PETTINGZOO_PREFIX}PACKAGE.MODULE[:FACTORY], e.g. "
            f"{PETTINGZOO_PREFIX}mpe2.simple_spread_v3 or {PETTINGZOO_PREFIX}pettingzoo.sisl.multiwalker_v9"
        )
    return module, attr


def _import_factory(env_id: str, module_name: str, attr: str) -> Callable[..., Any]:
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # an env module may fail to import in any way (missing pygame, a ROM, ...)
        raise ValueError(
            f"env id {env_id!r}: cannot import module {module_name!r} ({type(err).__name__}: {err}); "
            "expected an installed Python module that defines a PettingZoo ParallelEnv factory"
        ) from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        found = "is not callable" if hasattr(module, attr) else "does not exist"
        raise ValueError(
            f"env id {env_id!r}: {module_name}.{attr} {found}; expected a function returning a PettingZoo "
            f"ParallelEnv (PettingZoo modules define parallel_env)"
        )
    return factory


def _third_party_factory(env_id: str) -> Callable[..., Any]:
    if env_id.startswith(PETTINGZOO_PREFIX):
        return _import_factory(env_id, *_split_module_id(env_id))
    if env_id in _REGISTERED:
        return _REGISTERED[env_id]
    for point in metadata.entry_points(group=ENTRY_POINT_GROUP, name=env_id):
        module_name, _, attr = point.value.partition(":")
        return _import_factory(env_id, module_name.strip(), attr.strip() or "parallel_env")
    check_env_id(env_id)
    raise AssertionError("unreachable")  # pragma: no cover


def _parameters(env_id: str, factory: Callable[..., Any]) -> str:
    """The keyword parameters a factory takes, for error messages (PettingZoo's ``parallel_env(**kwargs)``
    forwards to its module's ``raw_env``, whose signature is then the one that counts)."""
    try:
        params = inspect.signature(factory).parameters
        if all(p.kind is p.VAR_KEYWORD for p in params.values()) and env_id.startswith(PETTINGZOO_PREFIX):
            module = importlib.import_module(_split_module_id(env_id)[0])
            raw = getattr(module, "raw_env", None)
            params = inspect.signature(raw).parameters if callable(raw) else params
    except (TypeError, ValueError):
        return "see the env's documentation"
    names = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if names:
        return ", ".join(names)
    return "not listed (it takes **kwargs)" if params else "none"


def _build_parallel_env(env_id: str, factory: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """``factory(**kwargs)``: bad kwargs and anything but a ParallelEnv are one line naming the id."""
    try:
        env = factory(**kwargs)
    except (TypeError, AssertionError) as err:
        raise ValueError(
            f"env {env_id!r} refused env kwargs {kwargs} ({type(err).__name__}: {err}); its parameters: "
            f"{_parameters(env_id, factory)}; the adapter's own: {', '.join(ADAPTER_KWARGS)}"
        ) from None
    if not isinstance(env, ParallelEnv):
        raise ValueError(
            f"env {env_id!r}: its factory returned {type(env).__name__}; expected a pettingzoo ParallelEnv "
            "(for an AEC env use its module's parallel_env, or pettingzoo.utils.aec_to_parallel)"
        )
    return env


def third_party_core(
    env_id: str, num_envs: int, *, factory: Callable[..., Any] | None = None, **kwargs: Any
) -> ParallelEnvVectorCore:
    """``num_envs`` copies of a third-party env behind the adapter; kwargs as in the module docstring.

    ``factory`` is the id's factory when the caller has it already (a worker process is sent a registered
    one, which its own registry lacks); otherwise it is looked up (imported) here.
    """
    factory = _third_party_factory(env_id) if factory is None else factory
    adapter = {name: kwargs.pop(name) for name in ADAPTER_KWARGS if name in kwargs}
    make = partial(_build_parallel_env, env_id, factory, kwargs)
    return ParallelEnvVectorCore([make] * num_envs, **adapter)


def _core_factory(env_id: str) -> Callable[..., VectorCore]:
    try:
        return _CORES[env_id]
    except (KeyError, TypeError):
        check_env_id(env_id)
        raise


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
    ...), and ``num_workers`` as for MuJoCo. Third-party ids (``pettingzoo:...``, :func:`register_env`): the
    factory's kwargs and the adapter's ``seed`` and ``one_hot_agent_id``, and ``num_workers`` as for MuJoCo
    where a worker can rebuild the factory (:func:`worker_refusal` says why not, in one line).
    """
    if num_workers != 1 and not env_capabilities(env_id).worker_processes:
        if is_third_party(env_id):
            raise ValueError(
                f"num_workers={num_workers} is not allowed for {env_id}: {worker_refusal(env_id)}"
            )
        raise ValueError(
            f"num_workers={num_workers} is not allowed for {env_id}; worker processes are for "
            f"{', '.join(env_ids_with('worker_processes'))} and third-party PettingZoo envs"
        )
    if isinstance(env_id, str) and env_id.startswith(VMAS_PREFIX):
        return VmasCore(num_envs, env_id, **kwargs)
    if is_third_party(env_id):
        if num_workers > 1:
            # A worker imports a pettingzoo:/entry-point id itself; a registered factory travels pickled.
            shard = partial(third_party_core, env_id, factory=_REGISTERED.get(env_id))
            return SubprocessVectorCore(shard, num_envs, num_workers, **kwargs)
        return third_party_core(env_id, num_envs, **kwargs)
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
    return _core_factory(env_id)(num_envs=num_envs, **kwargs)


def make_env(
    env_id: str, render_mode: str | None = None, **kwargs: Any
) -> CoreParallelEnv | MaMuJoCoParallelEnv | PongParallelEnv:
    """PettingZoo ``ParallelEnv`` over one copy; kwargs as for :func:`make_vector_env` (not ``num_envs``).

    A third-party id returns its factory's own env (the adapter's kwargs are dropped). VMAS ids have none.
    """
    if isinstance(env_id, str) and env_id.startswith(VMAS_PREFIX):
        raise ValueError(f"{env_id}: VMAS ids have no one-copy PettingZoo view (no frames); use a vector env")
    if is_third_party(env_id):
        factory_kwargs = {k: v for k, v in kwargs.items() if k not in ADAPTER_KWARGS}
        if render_mode is not None:
            factory_kwargs["render_mode"] = render_mode
        env: Any = _build_parallel_env(env_id, _third_party_factory(env_id), factory_kwargs)
        return env
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
