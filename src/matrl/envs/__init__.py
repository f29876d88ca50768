"""Environments: faithful batched numpy ports of ma-gym's Checkers-v0, Switch2-v0 and Switch4-v0, a repeated
matrix game, and an adapter that puts any PettingZoo ``ParallelEnv`` behind the same batched interface."""

from matrl.envs.checkers import CheckersCore
from matrl.envs.core import GridCore, StepResult, VectorCore
from matrl.envs.matrix import MatrixGameCore
from matrl.envs.parallel import CoreParallelEnv, GridParallelEnv
from matrl.envs.pettingzoo_adapter import ParallelEnvVectorCore
from matrl.envs.registry import ENV_IDS, GRID_ENV_IDS, make_env, make_vector_env
from matrl.envs.switch import SwitchCore

__all__ = [
    "ENV_IDS",
    "GRID_ENV_IDS",
    "CheckersCore",
    "CoreParallelEnv",
    "GridCore",
    "GridParallelEnv",
    "MatrixGameCore",
    "ParallelEnvVectorCore",
    "StepResult",
    "SwitchCore",
    "VectorCore",
    "make_env",
    "make_vector_env",
]
