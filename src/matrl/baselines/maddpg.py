"""MADDPG: deterministic per-agent actors trained through centralised per-agent critics (continuous actions).

Lowe et al. 2017, "Multi-Agent Actor-Critic for Mixed Cooperative-Competitive Environments"
(arXiv:1706.02275), Algorithm 1: critic i regresses Q_i(x, a_1..a_n) on
y_i = r_i + gamma Q_i^-(x', mu_1^-(o_1')..mu_n^-(o_n')), where x is every agent's observation and r_i agent
i's own reward (MaMuJoCo gives every agent the same one); actor i ascends Q_i(x, a_1..mu_i(o_i)..a_n) with
the *other* agents' actions taken from the replay buffer; targets track the online networks by Polyak
averaging.

Where each default (`matrl.config.MADDPGConfig`) comes from:

- MATRL paper (Wen et al. 2021), appendix Table 5, MADDPG rows: 2-layer MLP [300, 300], learning rate 0.001,
  batch size 100, an update every 100 time steps, 10,000 pre-training (uniform random) steps, gamma 0.99.
- The MADDPG authors' code (github.com/openai/maddpg, ``maddpg/trainer/maddpg.py``): Polyak rate 0.01
  (``polyak = 1.0 - 1e-2``), gradient clipping 0.5 (``grad_norm_clipping=0.5``), the actor penalty
  ``1e-3 * mean(square(p))`` on the policy's raw outputs, one gradient step per update (``t % 100``), the
  critic updated before the actor and both targets after.

Departures, each small: actors are tanh-squashed deterministic maps into the action box (the code samples a
Gaussian around its output for continuous spaces); gradients are clipped per agent over all of that agent's
weights (the code clips each variable's gradient separately); exploration is Gaussian noise of
``exploration_noise`` x half-range, as in DDPG (Lillicrap et al. 2015), on top of the deterministic action.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from matrl.baselines.offpolicy import OffPolicyLearner, joint_state, soft_update
from matrl.config import TrainConfig
from matrl.envs.spec import ActionSpec
from matrl.learners.networks import BatchedMLP
from matrl.learners.replay import TransitionReplay, TransitionSample
from matrl.rollout.base import Collector

#: The diagnostics `MADDPG.train_round` returns (means over agents), the learner's metrics.csv columns.
DIAGNOSTICS = ("critic_loss", "actor_loss", "q_mean")


class MADDPGActor(nn.Module):
    """Every agent's deterministic policy: a `BatchedMLP` giving u, squashed to mid + scale * tanh(u).

    ``mid`` and ``scale`` are the centre and half-width of each agent's action box, entry by entry.

    The bounds are buffers derived from the env's action spec (not saved: evaluation rebuilds them from the
    env), so a checkpoint's ``actor.*`` tensors are the MLP weights only.
    """

    mid: torch.Tensor
    scale: torch.Tensor
    mask: torch.Tensor

    def __init__(self, n_agents: int, obs_dim: int, spec: ActionSpec, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.mlp = BatchedMLP(n_agents, obs_dim, spec.dim, hidden=hidden)
        low = torch.as_tensor(spec.low, dtype=torch.float32)
        high = torch.as_tensor(spec.high, dtype=torch.float32)
        # (A, 1, dim): broadcast over the batch axis of (A, B, dim) outputs.
        self.register_buffer("mid", ((high + low) / 2).unsqueeze(1), persistent=False)
        self.register_buffer("scale", ((high - low) / 2).unsqueeze(1), persistent=False)
        self.register_buffer("mask", torch.as_tensor(spec.mask).unsqueeze(1), persistent=False)

    def pre_activation(self, obs: torch.Tensor) -> torch.Tensor:
        """u: obs (A, B, obs_dim) -> (A, B, dim), the raw outputs the action penalty acts on."""
        out: torch.Tensor = self.mlp(obs)
        return out

    def squash(self, u: torch.Tensor) -> torch.Tensor:
        """u -> actions inside [low, high], padding entries exactly 0 (what the buffer and critics see)."""
        action = self.mid + self.scale * torch.tanh(u)
        return torch.where(self.mask, action, torch.zeros_like(action))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic actions (A, B, dim) for observations (A, B, obs_dim)."""
        return self.squash(self.pre_activation(obs))


def _require_continuous(config: TrainConfig, spec: ActionSpec) -> None:
    if not spec.continuous:
        raise ValueError(
            f"env {config.env!r} has discrete actions; maddpg needs continuous actions "
            "(vdn, qmix and qtran are for discrete ones)"
        )


def build_maddpg_actor(config: TrainConfig, n_agents: int, obs_dim: int, spec: ActionSpec) -> MADDPGActor:
    """The actors of a MADDPG run; training builds them here too, so evaluation loads ``actor.*`` weights."""
    _require_continuous(config, spec)
    return MADDPGActor(n_agents, obs_dim, spec, tuple(config.maddpg.hidden))


def clip_grad_norm_per_agent(module: nn.Module, max_norm: float) -> torch.Tensor:
    """Scale each agent's gradient so that its norm over all of its weights is at most ``max_norm``.

    Every parameter of a `BatchedMLP` has a leading agent axis, so agent a's gradient is the slice [a] of
    each; the rule is torch's ``clip_grad_norm_`` applied per agent. Returns the (A,) norms before clipping.
    """
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    squares = torch.stack([g.pow(2).reshape(g.shape[0], -1).sum(1) for g in grads]).sum(0)
    norms = squares.sqrt()
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))
    return norms


class MADDPG(OffPolicyLearner):
    """MADDPG on the shared off-policy loop: a round is ``update_every`` env steps then the gradient steps."""

    def __init__(self, config: TrainConfig, collector: Collector) -> None:
        super().__init__(config, collector)
        _require_continuous(self.config, self.spec)
        m = self.config.maddpg
        self.diagnostics = DIAGNOSTICS
        self.round_steps = math.ceil(m.update_every / collector.num_envs)
        self.warmup_steps = m.warmup_steps
        self.check_round_fits()
        a, dim = self.n_agents, self.spec.dim
        self.actor = build_maddpg_actor(self.config, a, self.obs_dim, self.spec)
        # Critic i sees the joint observation and every agent's action (the same input for every i).
        self.critic = BatchedMLP(a, a * self.obs_dim + a * dim, 1, hidden=m.hidden)
        self.target_actor = copy.deepcopy(self.actor)
        self.target_critic = copy.deepcopy(self.critic)
        for module in (self.target_actor, self.target_critic):
            module.requires_grad_(False)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=m.actor_lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=m.critic_lr)
        self._net = nn.ModuleDict({"actor": self.actor, "critic": self.critic})
        self._replay = TransitionReplay(
            m.buffer_size, a, self.obs_dim, action_shape=(dim,), action_dtype=np.float32
        )
        self._low, self._high = self.spec.low.astype(np.float32), self.spec.high.astype(np.float32)
        self._half = (self._high - self._low) / 2
        self._mask = self.spec.mask
        # (A, 1, A, 1): True at agent i's own slot of the joint action that critic i's actor term sees.
        self._own = torch.eye(a, dtype=torch.bool).view(a, 1, a, 1)

    # ------------------------------------------------------------------ what the base class needs
    @property
    def net(self) -> nn.Module:
        return self._net

    def networks(self) -> dict[str, nn.Module]:
        return {
            "actor": self.actor,
            "critic": self.critic,
            "target_actor": self.target_actor,
            "target_critic": self.target_critic,
        }

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"actor": self.actor_opt, "critic": self.critic_opt}

    @property
    def replay(self) -> TransitionReplay:
        return self._replay

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def greedy_env_actions(self, obs: NDArray[np.float32]) -> NDArray[np.float32]:
        """The actors' deterministic actions, no noise (what evaluation uses): (E, A, D) -> (E, A, dim)."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32)).transpose(0, 1)
        return self.actor(x).transpose(0, 1).numpy().astype(np.float32, copy=False)

    def act(self, obs: NDArray[np.float32]) -> NDArray[np.float32]:
        """Uniform actions in the box during warm-up, then the actor's action plus clipped Gaussian noise."""
        shape = (obs.shape[0], self.n_agents, self.spec.dim)
        if self.env_steps < self.warmup_steps:
            actions = self.explore_rng.uniform(self._low, self._high, size=shape)
        else:
            noise = self.explore_rng.normal(size=shape) * (self.config.maddpg.exploration_noise * self._half)
            actions = np.clip(self.greedy_env_actions(obs) + noise, self._low, self._high)
        return np.where(self._mask, actions, 0.0).astype(np.float32)

    # ------------------------------------------------------------------ learning
    def critic_loss(self, sample: TransitionSample) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-agent TD losses (A,) against the target networks, and Q_i(x, a) (A, B) for diagnostics."""
        gamma = self.config.maddpg.gamma
        a, batch = sample.obs.shape[:2]
        with torch.no_grad():
            next_actions = self.target_actor(sample.next_obs)
            next_input = torch.cat([joint_state(sample.next_obs), joint_state(next_actions)], dim=1)
            next_q = self.target_critic(next_input.expand(a, batch, -1)).squeeze(-1)
            alive = 1.0 - sample.terminated.to(torch.float32)
            target = sample.rewards + gamma * alive * next_q
        joint = torch.cat([joint_state(sample.obs), joint_state(sample.actions)], dim=1)
        q = self.critic(joint.expand(a, batch, -1)).squeeze(-1)
        return (q - target).pow(2).mean(1), q

    def actor_loss(self, sample: TransitionSample) -> torch.Tensor:
        """Per-agent actor losses (A,): -Q_i with agent i's replayed action replaced by mu_i(o_i), + penalty.

        All agents at once: row i of the critic's (A, B, in) input is the joint action with only slot i
        replaced, so agent i's loss reaches its own actor only (the others' actions are replayed constants).
        """
        a, batch = sample.obs.shape[:2]
        u = self.actor.pre_activation(sample.obs)
        mine = self.actor.squash(u)  # (A, B, dim)
        replayed = sample.actions.transpose(0, 1).unsqueeze(0)  # (1, B, A, dim)
        joint_actions = torch.where(self._own, mine.unsqueeze(2), replayed).reshape(a, batch, -1)
        obs = joint_state(sample.obs).expand(a, batch, -1)
        q = self.critic(torch.cat([obs, joint_actions], dim=2)).squeeze(-1)
        mask = self.actor.mask.to(u.dtype)  # (A, 1, dim): the penalty averages over real entries only
        penalty = (u.pow(2) * mask).sum((1, 2)) / (mask.sum((1, 2)) * batch)
        loss: torch.Tensor = -q.mean(1) + self.config.maddpg.action_reg * penalty
        return loss

    def train_round(self) -> dict[str, float]:
        """``updates_per_round`` gradient steps: critics, then actors on the updated critics, then targets."""
        m = self.config.maddpg
        sums = dict.fromkeys(DIAGNOSTICS, 0.0)
        for _ in range(m.updates_per_round):
            sample = self.replay.sample(m.batch_size, self.replay_rng)
            critic_losses, q = self.critic_loss(sample)
            self._check_finite("critic_loss", critic_losses)
            self.critic_opt.zero_grad(set_to_none=True)
            critic_losses.sum().backward()
            clip_grad_norm_per_agent(self.critic, m.max_grad_norm)
            self.critic_opt.step()

            # The critics are constants of the actor step: no weight gradients for them.
            self.critic.requires_grad_(False)
            try:
                actor_losses = self.actor_loss(sample)
                self._check_finite("actor_loss", actor_losses)
                self.actor_opt.zero_grad(set_to_none=True)
                actor_losses.sum().backward()
            finally:
                self.critic.requires_grad_(True)
            clip_grad_norm_per_agent(self.actor, m.max_grad_norm)
            self.actor_opt.step()

            soft_update(self.target_actor, self.actor, m.tau)
            soft_update(self.target_critic, self.critic, m.tau)
            self.gradient_steps += 1
            sums["critic_loss"] += critic_losses.detach().mean().item()
            sums["actor_loss"] += actor_losses.detach().mean().item()
            sums["q_mean"] += q.detach().mean().item()
        return {key: value / m.updates_per_round for key, value in sums.items()}

    def _check_finite(self, name: str, losses: torch.Tensor) -> None:
        """Stop before a NaN loss reaches the weights (one line: which loss, where in the run)."""
        if bool(torch.isnan(losses).any()):
            raise FloatingPointError(
                f"maddpg {name} is NaN at gradient step {self.gradient_steps} (env step {self.env_steps})"
            )
