"""Environments: faithful batched numpy ports of ma-gym's Checkers-v0, Switch2-v0 and Switch4-v0, a repeated
matrix game, multi-agent MuJoCo (Hopper 3x1, Ant 4x2, ...), worker processes that shard a core's copies, and
an adapter that puts any PettingZoo ``ParallelEnv`` behind the same batched interface (ids
``pettingzoo:PACKAGE.MODULE[:FACTORY]``, or a name given with `register_env`).

The MuJoCo classes are imported on first use, so that the grid worlds do not pay for gymnasium-robotics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matrl.envs.checkers import CheckersCore
from matrl.envs.core import BatchedCore, GameStep, GridCore, StepResult, VectorCore
from matrl.envs.matrix import MatrixGameCore
from matrl.envs.parallel import CoreParallelEnv, GridParallelEnv
from matrl.envs.pettingzoo_adapter import ParallelEnvVectorCore
from matrl.envs.registry import (
    ENV_IDS,
    GRID_ENV_IDS,
    MUJOCO_ENV_IDS,
    PONG_ENV_IDS,
    EnvCapabilities,
    env_capabilities,
    make_env,
    make_vector_env,
    register_env,
)
from matrl.envs.subprocess_core import SubprocessVectorCore
from matrl.envs.switch import SwitchCore

if TYPE_CHECKING:
    from matrl.envs.mamujoco import MaMuJoCoCore, MaMuJoCoParallelEnv

__all__ = [
    "ENV_IDS",
    "GRID_ENV_IDS",
    "MUJOCO_ENV_IDS",
    "PONG_ENV_IDS",
    "BatchedCore",
    "CheckersCore",
    "CoreParallelEnv",
    "EnvCapabilities",
    "GameStep",
    "GridCore",
    "GridParallelEnv",
    "MaMuJoCoCore",
    "MaMuJoCoParallelEnv",
    "MatrixGameCore",
    "ParallelEnvVectorCore",
    "StepResult",
    "SubprocessVectorCore",
    "SwitchCore",
    "VectorCore",
    "env_capabilities",
    "make_env",
    "make_vector_env",
    "register_env",
]


def __getattr__(name: str) -> Any:
    """Import the MuJoCo classes lazily (gymnasium-robotics takes a noticeable time to import)."""
    if name in ("MaMuJoCoCore", "MaMuJoCoParallelEnv"):
        from matrl.envs import mamujoco

        return getattr(mamujoco, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
