"""What every learner gives the training loop, and the helpers MATRL and the baselines share.

`training.py` drives any algorithm of the registry (`matrl.algos`) through the `Learner` protocol: one
`iteration()` at a time, a resumable `state_dict()`, and the acting network `net` that model checkpoints hold.
The helpers live here, below both MATRL (`matrl.algorithm`) and the baselines, so neither imports the other.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

if TYPE_CHECKING:  # the learners sit below the config in the layers (pyproject's import-linter contract)
    from matrl.config import TrainConfig


@dataclass
class IterationResult:
    """What one iteration did: scalars for metrics.csv and seconds per phase."""

    metrics: dict[str, float] = field(default_factory=dict)
    phase_seconds: dict[str, float] = field(default_factory=dict)


class Learner(Protocol):
    """One algorithm's training state on one collector (MATRL, its ablations and controls, the baselines)."""

    config: TrainConfig
    iteration_count: int
    env_steps: int
    device: torch.device

    @property
    def net(self) -> torch.nn.Module:
        """The networks a model checkpoint saves (the acting part is rebuilt from them by `matrl.eval`)."""
        ...

    def iteration(self) -> IterationResult:
        """Collect, update, and report one iteration."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything a bit-identical resume needs (networks, optimisers, RNG states, counters)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict`'s output."""
        ...


def seed_everything(seed: int) -> None:
    """Seed python, numpy's global state and torch (initialisation); sampling uses explicit generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - legacy global state, for third-party code that reads it
    torch.manual_seed(seed)


def jsonable(value: Any) -> Any:
    """numpy integers in a (nested) dict as Python ints, which ``torch.load(weights_only=True)`` reads."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, np.integer):
        return int(value)
    return value


def episode_columns(returns: list[np.ndarray], lengths: list[np.ndarray], n_agents: int) -> dict[str, float]:
    """The episode columns of metrics.csv (``episodes``, ``total_return``, ``episode_length``, ``return_i``):
    means over the episodes whose (episodes, A) returns and (episodes,) lengths are given; NaN if none."""
    finished = [r for r in returns if r.size]
    out = {"episodes": float(sum(r.shape[0] for r in finished))}
    if not finished:
        out.update({"total_return": float("nan"), "episode_length": float("nan")})
        out.update({f"return_{i}": float("nan") for i in range(n_agents)})
        return out
    episode_returns = np.concatenate(finished)
    out["total_return"] = float(episode_returns.sum(1).mean())
    out["episode_length"] = float(np.concatenate([x for x in lengths if x.size]).mean())
    out.update({f"return_{i}": float(episode_returns[:, i].mean()) for i in range(n_agents)})
    return out
