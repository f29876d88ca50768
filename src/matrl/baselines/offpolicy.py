"""The loop every off-policy baseline shares: collect a few steps, store them, take gradient steps, repeat.

An *iteration* is the same unit as MATRL's, ``config.batch_size`` env steps, so runs of every algorithm log
one `metrics.csv` row per equal slice of experience and `matrl plot` lines them up. Inside an iteration the
learner alternates *rounds*: ``round_steps`` steps of every env copy through the ordinary `Collector`, into a
replay buffer, then ``train_round`` (a subclass's gradient steps) once ``warmup_steps`` env steps are stored.

A subclass supplies: its networks and optimisers (`networks`, `optimizers`), how it acts (`act`), what one
round of learning does (`train_round`) and its replay buffer. Checkpointing, resume, random streams and
episode statistics live here, once.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from matrl.config import TrainConfig
from matrl.learners.device import resolve_device
from matrl.learners.protocol import IterationResult, episode_columns, jsonable, seed_everything
from matrl.learners.replay import TransitionReplay
from matrl.rollout.base import Batch, Collector, EnvActionFn


class OffPolicyLearner(ABC):
    """Replay-based learner behind the same interface as `matrl.algorithm.MATRL`.

    Attributes the training loop reads: ``config``, ``net`` (the modules saved in model checkpoints),
    ``iteration_count``, ``env_steps``; methods ``iteration``, ``state_dict``, ``load_state_dict``.
    """

    #: Vector-env steps (each moves every copy once) per round; set by the subclass before `_start`.
    round_steps: int = 1
    #: Env steps stored before the first gradient step.
    warmup_steps: int = 0
    #: Keys `train_round` returns: NaN columns until the first gradient step (metrics.csv takes its columns
    #: from the first row, which warm-up may leave without any).
    diagnostics: tuple[str, ...] = ()

    def __init__(self, config: TrainConfig, collector: Collector) -> None:
        self.config = config.validate()
        if resolve_device(config.device).type != "cpu":
            raise ValueError(
                f"device={config.device!r} is not supported by the {config.algo} baseline, which trains on "
                "the CPU (use --device cpu; the GPU learner is for matrl, il, il-pp and matrl-nobr)"
            )
        self.collector = collector
        self.n_agents = collector.n_agents
        self.obs_dim = collector.obs_dim
        self.spec = collector.action_spec
        seed_everything(config.seed)
        # Separate streams: exploration (epsilon, noise, warm-up actions) and replay sampling.
        self.explore_rng = np.random.default_rng(config.seed + 1)
        self.replay_rng = np.random.default_rng(config.seed + 2)
        self.iteration_count = 0
        self.env_steps = 0
        self.gradient_steps = 0

    # ------------------------------------------------------------------ what a subclass provides
    @property
    @abstractmethod
    def net(self) -> nn.Module:
        """The online networks (what ``iter_N.safetensors`` holds and evaluation loads)."""

    @abstractmethod
    def networks(self) -> dict[str, nn.Module]:
        """Every module whose weights a resumed run needs (online and target)."""

    @abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser, by name."""

    @property
    @abstractmethod
    def replay(self) -> TransitionReplay:
        """The replay buffer."""

    @abstractmethod
    def act(self, obs: NDArray[np.float32]) -> NDArray[Any]:
        """Exploratory actions (E, A, ...) for observations (E, A, obs_dim), at ``self.env_steps``."""

    @abstractmethod
    def train_round(self) -> dict[str, float]:
        """The gradient steps of one round; returns diagnostics to average into the iteration's metrics."""

    def env_action(self, actions: NDArray[Any]) -> NDArray[Any]:
        """Stored actions -> the actions the environment receives (identity unless overridden)."""
        return actions

    # ------------------------------------------------------------------ the loop
    def check_round_fits(self) -> None:
        """An iteration must be a whole number of rounds, or iterations would drift against batch_size."""
        per_round = self.round_steps * self.collector.num_envs
        if self.config.batch_size % per_round:
            raise ValueError(
                f"batch_size={self.config.batch_size} is not allowed for {self.config.algo}; expected a "
                f"multiple of its round of {per_round} env steps ({self.round_steps} steps x "
                f"{self.collector.num_envs} env copies)"
            )

    def iteration(self) -> IterationResult:
        """``batch_size`` env steps of collect-store-learn rounds."""
        result = IterationResult()
        rounds = self.config.batch_size // (self.round_steps * self.collector.num_envs)
        sums: dict[str, float] = {}
        trained = 0
        returns: list[NDArray[np.float64]] = []
        lengths: list[NDArray[np.int64]] = []
        for _ in range(rounds):
            with self._timed(result, "collect"):
                batch = self.collector.collect(self._act_fn, self.round_steps, to_env=self._to_env())
                self.store(batch)
                self.env_steps += batch.env_steps
            if batch.episode_returns.size:
                returns.append(batch.episode_returns)
                lengths.append(batch.episode_lengths)
            if self.env_steps >= self.warmup_steps and len(self.replay) > 0:
                with self._timed(result, "update"):
                    stats = self.train_round()
                trained += 1
                for key, value in stats.items():
                    sums[key] = sums.get(key, 0.0) + value
        self.iteration_count += 1
        result.metrics.update(dict.fromkeys(self.diagnostics, float("nan")))
        result.metrics.update({key: value / trained for key, value in sums.items()})
        result.metrics["gradient_steps"] = float(self.gradient_steps)
        result.metrics.update(episode_columns(returns, lengths, self.n_agents))
        return result

    def store(self, batch: Batch) -> None:
        """Every transition of a collected batch into the replay buffer, in time order."""
        for t in range(batch.actions.shape[0]):
            self.replay.add_batch(
                batch.obs[t], batch.actions[t], batch.rewards[t], batch.next_obs[t], batch.terminated[t]
            )

    def _act_fn(
        self, obs: NDArray[np.float32]
    ) -> tuple[NDArray[Any], NDArray[np.float32], NDArray[np.float32]]:
        """The collector's act contract; off-policy learners store no behaviour log-probs or values."""
        actions = self.act(obs)
        zeros = np.zeros(obs.shape[:2], dtype=np.float32)
        return actions, zeros, zeros

    def _to_env(self) -> EnvActionFn | None:
        return self.env_action if type(self).env_action is not OffPolicyLearner.env_action else None

    @contextmanager
    def _timed(self, result: IterationResult, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        result.phase_seconds[phase] = result.phase_seconds.get(phase, 0.0) + time.perf_counter() - start

    # ------------------------------------------------------------------ state for checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue bit-identically (tensors, arrays, plain values)."""
        return {
            "networks": {name: module.state_dict() for name, module in self.networks().items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers().items()},
            "replay": self.replay.state_dict(),
            "explore_rng": jsonable(self.explore_rng.bit_generator.state),
            "replay_rng": jsonable(self.replay_rng.bit_generator.state),
            "iteration": self.iteration_count,
            "env_steps": self.env_steps,
            "gradient_steps": self.gradient_steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of `state_dict`."""
        for name, module in self.networks().items():
            module.load_state_dict(state["networks"][name])
        for name, opt in self.optimizers().items():
            opt.load_state_dict(state["optimizers"][name])
        self.replay.load_state_dict(state["replay"])
        self.explore_rng.bit_generator.state = state["explore_rng"]
        self.replay_rng.bit_generator.state = state["replay_rng"]
        self.iteration_count = int(state["iteration"])
        self.env_steps = int(state["env_steps"])
        self.gradient_steps = int(state["gradient_steps"])


def joint_state(obs: torch.Tensor) -> torch.Tensor:
    """The centralised input of mixers and critics: every agent's observation, concatenated.

    (A, B, obs_dim) -> (B, A * obs_dim). Our grid worlds expose no separate global state; the joint
    observation is the usual stand-in (it is what MADDPG's critics see by definition).
    """
    return obs.transpose(0, 1).reshape(obs.shape[1], -1)


def hard_update(target: nn.Module, online: nn.Module) -> None:
    """Copy the online weights into the target network."""
    target.load_state_dict(online.state_dict())


@torch.no_grad()
def soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """Polyak averaging: target <- (1 - tau) target + tau online."""
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        t.mul_(1.0 - tau).add_(o, alpha=tau)
