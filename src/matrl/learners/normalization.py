"""Running observation normalisation, per agent, stored with the networks so checkpoints carry it.

MuJoCo observations mix positions and velocities on very different scales; PPO learns far better on
standardised inputs. The statistics are buffers of the actor-critic (saved in every checkpoint, restored by
`load_state_dict`) and are updated only between iterations, so that within one iteration pi, pihat and
pibar all see the same normalisation and their importance ratios stay exact.
"""

from __future__ import annotations

import torch
from torch import nn


class RunningObsNorm(nn.Module):
    """(obs - mean) / sqrt(var + eps), clipped to +-``clip``, with mean and var tracked per agent."""

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor

    def __init__(self, num_agents: int, obs_dim: int, clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.clip = clip
        self.eps = eps
        self.register_buffer("mean", torch.zeros(num_agents, 1, obs_dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(num_agents, 1, obs_dim, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """``obs`` (A, B, obs_dim) -> standardised float32 observations of the same shape."""
        scaled = (obs.double() - self.mean) / torch.sqrt(self.var + self.eps)
        return scaled.clamp(-self.clip, self.clip).to(obs.dtype)

    @torch.no_grad()
    def update(self, obs: torch.Tensor) -> None:
        """Fold a batch (A, N, obs_dim) into the statistics (Chan et al.'s parallel mean/variance merge)."""
        x = obs.double()
        n = float(x.shape[1])
        batch_mean = x.mean(1, keepdim=True)
        batch_var = x.var(1, unbiased=False, keepdim=True)
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * (n / total)
        merged = self.var * self.count + batch_var * n + delta.square() * self.count * n / total
        self.var.copy_(merged / total)
        self.count.fill_(total)
