"""Every agent's policy and value networks, kept separate per agent and evaluated in one batched call.

The policy head turns network outputs into a distribution (categorical or Gaussian), so the learner code
never looks at the action type. Continuous policies add a learned, state-independent log-std per agent and
action entry; observations can pass through a running normaliser stored with the weights. Image observations
(``torso`` given) go through per-agent CNNs instead of MLPs (`matrl.learners.conv`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from matrl.envs.spec import ActionSpec
from matrl.learners.conv import BatchedCNN, ConvTorso
from matrl.learners.distributions import CategoricalHead, GaussianHead, MaskedCategoricalHead, PolicyHead
from matrl.learners.networks import BatchedMLP
from matrl.learners.normalization import RunningObsNorm


class Evaluation(NamedTuple):
    """The networks' view of a batch of (observation, action) pairs, each shaped (A, B)."""

    logp: torch.Tensor
    entropy: torch.Tensor
    values: torch.Tensor


class ActorCritic(nn.Module):
    """A policy MLP and a value MLP per agent (no parameter sharing), with a leading agent axis everywhere.

    With ``torso`` (and ``obs_shape`` (C, H, W)) the policy and the value are each a CNN per agent: the conv
    layers of ``torso``, then ``hidden`` fully connected layers. Policy and value keep separate conv layers,
    as the original code's separate policy and value networks did.
    """

    def __init__(
        self,
        num_agents: int,
        obs_dim: int,
        n_actions: int | ActionSpec,
        hidden: Sequence[int] = (128, 128),
        head: PolicyHead | None = None,
        *,
        obs_norm: bool = False,
        log_std_init: float = -0.5,
        action_bounds: str = "clip",
        obs_shape: Sequence[int] | None = None,
        torso: ConvTorso | None = None,
    ) -> None:
        """``n_actions`` is a number of discrete actions or an `ActionSpec` (discrete or continuous)."""
        super().__init__()
        spec = ActionSpec.discrete(n_actions) if isinstance(n_actions, int) else n_actions
        self.num_agents = num_agents
        self.spec = spec
        out = spec.n if not spec.continuous else spec.dim
        # Small final policy gain: near-uniform initial policies (or means near 0), the usual PPO choice.
        self.policy: BatchedMLP | BatchedCNN
        self.value: BatchedMLP | BatchedCNN
        if torso is not None:
            if obs_shape is None or math.prod(obs_shape) != obs_dim:
                raise ValueError(
                    f"a CNN needs obs_shape (C, H, W) with C*H*W = obs_dim={obs_dim}, got {obs_shape}"
                )
            if obs_norm:
                raise ValueError("obs_norm is not allowed with a CNN (pixels are scaled by 1/255)")
            self.policy = BatchedCNN(num_agents, obs_shape, out, hidden, torso, output_gain=0.01)
            self.value = BatchedCNN(num_agents, obs_shape, 1, hidden, torso, output_gain=1.0)
        else:
            self.policy = BatchedMLP(num_agents, obs_dim, out, hidden, output_gain=0.01)
            self.value = BatchedMLP(num_agents, obs_dim, 1, hidden, output_gain=1.0)
        self.log_std: nn.Parameter | None = None
        if spec.continuous:
            self.log_std = nn.Parameter(torch.full((num_agents, 1, spec.dim), float(log_std_init)))
        self.obs_norm = RunningObsNorm(num_agents, obs_dim) if obs_norm else None
        if head is None:
            if spec.continuous:
                head = GaussianHead(spec, action_bounds)
            else:
                head = CategoricalHead() if spec.valid_actions is None else MaskedCategoricalHead(spec)
        self.head: PolicyHead = head

    def _inputs(self, obs: torch.Tensor) -> torch.Tensor:
        return obs if self.obs_norm is None else self.obs_norm(obs)

    def _params(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.policy(x)
        if self.log_std is not None:
            out = torch.cat([out, self.log_std.expand_as(out)], dim=-1)
        return out

    def distribution_params(self, obs: torch.Tensor) -> torch.Tensor:
        """``obs`` (A, B, obs_dim) -> distribution parameters (A, B, P): logits, or means and log-stds."""
        return self._params(self._inputs(obs))

    def values(self, obs: torch.Tensor) -> torch.Tensor:
        """V(o) of each agent, shape (A, B)."""
        out: torch.Tensor = self.value(self._inputs(obs))
        return out.squeeze(-1)

    def evaluate(self, obs: torch.Tensor, actions: torch.Tensor) -> Evaluation:
        """Log-probabilities and entropies of ``actions`` and values, differentiable."""
        x = self._inputs(obs)
        params = self._params(x)
        values: torch.Tensor = self.value(x)
        logp, entropy = self.head.log_prob_and_entropy(params, actions)
        return Evaluation(logp, entropy, values.squeeze(-1))

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of ``actions`` (A, B), without the value network."""
        return self.head.log_prob(self.distribution_params(obs), actions)

    @torch.no_grad()
    def act(
        self, obs: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample actions for (A, B) observations; returns actions, their log-probabilities and values."""
        x = self._inputs(obs)  # normalised once for both networks
        params, actions = self._sample(x, generator)
        values: torch.Tensor = self.value(x)
        return actions, self.head.log_prob(params, actions), values.squeeze(-1)

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Only the actions of `act` (the same draws from ``generator``), without the value network."""
        return self._sample(self._inputs(obs), generator)[1]

    def _sample(
        self, x: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        params = self._params(x)
        # A sum is NaN or inf whenever an entry is (the cheapest check per env step); only then the exact one
        # (a finite sum that overflowed passes it) and the search for the agent.
        if not math.isfinite(float(params.sum())) and not bool(torch.isfinite(params).all()):
            bad = int(torch.nonzero(~torch.isfinite(params).flatten(1).all(1))[0, 0])
            raise FloatingPointError(
                f"the policy of agent {bad} outputs NaN or inf; its weights are corrupt (check the learning "
                "rate, the rewards and the observations)"
            )
        return params, self.head.sample(params, generator)


@torch.no_grad()
def interpolate_parameters(
    target: nn.Module, current: nn.Module, predicted: nn.Module, rho: torch.Tensor
) -> None:
    """target <- rho_i * current + (1 - rho_i) * predicted per agent (the original code's `params` mixture).

    Every parameter has a leading agent axis, so one broadcast per tensor mixes all agents at once.
    """
    for t, c, p in zip(target.parameters(), current.parameters(), predicted.parameters(), strict=True):
        weight = rho.to(t.device, t.dtype).reshape(-1, *([1] * (t.dim() - 1)))
        t.copy_(weight * c + (1.0 - weight) * p)
