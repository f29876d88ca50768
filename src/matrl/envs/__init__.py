"""Grid worlds: faithful batched numpy ports of ma-gym's Checkers-v0, Switch2-v0 and Switch4-v0."""

from matrl.envs.checkers import CheckersCore
from matrl.envs.core import GridCore, StepResult
from matrl.envs.parallel import GridParallelEnv
from matrl.envs.registry import ENV_IDS, make_env, make_vector_env
from matrl.envs.switch import SwitchCore

__all__ = [
    "ENV_IDS",
    "CheckersCore",
    "GridCore",
    "GridParallelEnv",
    "StepResult",
    "SwitchCore",
    "make_env",
    "make_vector_env",
]
