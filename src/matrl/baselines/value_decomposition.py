"""What VDN, QMIX and QTRAN share: per-agent Q-networks, epsilon-greedy acting, double-Q targets, a target
network copied every ``target_update_interval`` gradient steps, and one Adam step on a joint TD loss.

Each method differs only in how the agents' Q-values are joined into a team value and trained; that is its
``joint_loss``, in its own module (`vdn`, `qmix`, `qtran`). All are trained on the team reward, the sum of
the agents' rewards (the grid worlds' ``total_return``), since they learn one joint value.

Agent networks are MATRL's (Table 4: "common individual action-value networks as those used by MATRL", 2 x
128, leaky ReLU, separate per agent), so the comparison is between learning rules, not architectures.
"""

from __future__ import annotations

import copy
import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from matrl.baselines.offpolicy import OffPolicyLearner, hard_update, joint_state
from matrl.config import TrainConfig
from matrl.learners.mixers import double_q_targets, epsilon_schedule
from matrl.learners.networks import BatchedMLP
from matrl.learners.replay import TransitionReplay
from matrl.rollout.base import Collector


@dataclass(frozen=True)
class QBatch:
    """A replayed minibatch with the Q-values every joint loss needs; agent tensors are (A, B, ...)."""

    q: torch.Tensor
    """(A, B, K) online Q_i(o_i, .), with gradient."""
    q_taken: torch.Tensor
    """(A, B) online Q_i(o_i, u_i) at the replayed actions, with gradient."""
    actions: torch.Tensor
    """(A, B) replayed actions."""
    next_greedy: torch.Tensor
    """(A, B) next actions picked by the double-Q rule (online argmax; target argmax without double-Q)."""
    next_values: torch.Tensor
    """(A, B) target-network Q_i(o'_i, next_greedy_i), detached."""
    team_reward: torch.Tensor
    """(B,) sum of the agents' rewards."""
    terminated: torch.Tensor
    """(B,) no bootstrap."""
    state: torch.Tensor
    """(B, A * obs_dim) joint observation (the mixers' state input)."""
    next_state: torch.Tensor
    """(B, A * obs_dim)."""


def build_q_agents(config: TrainConfig, n_agents: int, obs_dim: int, n_actions: int) -> BatchedMLP:
    """Per-agent Q-networks of a config (also what evaluation rebuilds from a checkpoint)."""
    return BatchedMLP(n_agents, obs_dim, n_actions, hidden=config.hidden)


class ValueDecomposition(OffPolicyLearner):
    """Centralised training of decentralised greedy Q-agents through a joint value; subclasses join them."""

    #: Diagnostics a method's `joint_loss` adds beyond ``q_tot_mean``.
    extra_diagnostics: tuple[str, ...] = ()

    def __init__(self, config: TrainConfig, collector: Collector) -> None:
        super().__init__(config, collector)
        if self.spec.continuous:
            raise ValueError(
                f"algo={config.algo} needs discrete actions, but env {config.env} has continuous ones; "
                "use maddpg (or matrl/il) there"
            )
        v = config.value
        self.diagnostics = (
            "loss",
            "q_taken_mean",
            "grad_norm",
            "epsilon",
            "q_tot_mean",
            *self.extra_diagnostics,
        )
        self.round_steps = v.steps_per_update
        self.warmup_steps = max(v.warmup_steps, v.batch_size)
        self.check_round_fits()
        self.n_actions = self.spec.n
        self.state_dim = self.n_agents * self.obs_dim
        self.agent_q = build_q_agents(config, self.n_agents, self.obs_dim, self.n_actions)
        self.mixer = self.build_mixer()
        self.target_agent_q = copy.deepcopy(self.agent_q)
        self.target_mixer = copy.deepcopy(self.mixer)
        self._net = nn.ModuleDict({"agent_q": self.agent_q, "mixer": self.mixer})
        self.optimizer = torch.optim.Adam(self._net.parameters(), lr=v.lr)
        self._replay = TransitionReplay(v.buffer_size, self.n_agents, self.obs_dim)

    # ------------------------------------------------------------------ what each method defines
    @abstractmethod
    def build_mixer(self) -> nn.Module:
        """The trainable joint part (an empty module for VDN)."""

    @abstractmethod
    def joint_loss(self, batch: QBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """The method's loss on a minibatch, and diagnostics."""

    # ------------------------------------------------------------------ OffPolicyLearner
    @property
    def net(self) -> nn.Module:
        return self._net

    @property
    def replay(self) -> TransitionReplay:
        return self._replay

    def networks(self) -> dict[str, nn.Module]:
        return {"net": self._net, "target_agent_q": self.target_agent_q, "target_mixer": self.target_mixer}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    @property
    def epsilon(self) -> float:
        """Exploration rate at the current env step."""
        v = self.config.value
        return epsilon_schedule(self.env_steps, v.epsilon_start, v.epsilon_end, v.epsilon_anneal_steps)

    @torch.no_grad()
    def act(self, obs: NDArray[np.float32]) -> NDArray[Any]:
        """Epsilon-greedy on each agent's own Q-values (decentralised execution)."""
        greedy = self.greedy_actions(obs)
        explore = self.explore_rng.random(greedy.shape) < self.epsilon
        random_actions = self.explore_rng.integers(0, self.n_actions, size=greedy.shape)
        return np.where(explore, random_actions, greedy)

    @torch.no_grad()
    def greedy_actions(self, obs: NDArray[np.float32]) -> NDArray[np.int64]:
        """argmax_k Q_i(o_i, k) for observations (E, A, obs_dim) -> (E, A)."""
        q = self.agent_q(torch.from_numpy(obs).transpose(0, 1))
        return q.argmax(-1).T.numpy().astype(np.int64)

    def train_round(self) -> dict[str, float]:
        """One Adam step on the joint loss; the target networks are refreshed every interval."""
        v = self.config.value
        sample = self.replay.sample(v.batch_size, self.replay_rng)
        q = self.agent_q(sample.obs)
        actions = sample.actions.long()
        q_taken = q.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        with torch.no_grad():
            q_next_target = self.target_agent_q(sample.next_obs)
            q_next_online = self.agent_q(sample.next_obs) if v.double_q else q_next_target
            next_greedy = q_next_online.argmax(-1)
            next_values = double_q_targets(q_next_online, q_next_target)
        batch = QBatch(
            q=q,
            q_taken=q_taken,
            actions=actions,
            next_greedy=next_greedy,
            next_values=next_values,
            team_reward=sample.rewards.sum(0),
            terminated=sample.terminated,
            state=joint_state(sample.obs),
            next_state=joint_state(sample.next_obs),
        )
        loss, stats = self.joint_loss(batch)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(
                f"{self.config.algo} loss is {loss.item()} at gradient step {self.gradient_steps}; "
                "try a lower value.lr"
            )
        self.optimizer.zero_grad()
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self._net.parameters(), v.max_grad_norm)
        self.optimizer.step()
        self.gradient_steps += 1
        if self.gradient_steps % v.target_update_interval == 0:
            self.update_targets()
        stats.update(
            {
                "loss": loss.item(),
                "q_taken_mean": q_taken.mean().item(),
                "grad_norm": float(grad_norm),
                "epsilon": self.epsilon,
            }
        )
        return stats

    def update_targets(self) -> None:
        """Copy the online agent networks and mixer into the targets."""
        hard_update(self.target_agent_q, self.agent_q)
        hard_update(self.target_mixer, self.mixer)
