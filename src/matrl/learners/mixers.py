"""Value-decomposition pieces for the value-based baselines: VDN/QMIX mixers, epsilon schedule, TD targets.

Agent Q-values come in the learner layout (A, B) (one row per agent, as `BatchedMLP` produces them after the
taken action is gathered); a mixer reduces them to one joint value per sample, shape (B,).
"""

from __future__ import annotations

import torch
from torch import nn


def vdn_mix(q_agents: torch.Tensor) -> torch.Tensor:
    """VDN joint value Q_tot = sum_i Q_i (Sunehag et al. 2018, "Value-Decomposition Networks for Cooperative
    Multi-Agent Learning"); (A, B) -> (B,). Additivity makes each agent's greedy action jointly greedy."""
    if q_agents.dim() != 2:
        raise ValueError(f"expected agent Q-values of shape (agents, batch), got {tuple(q_agents.shape)}")
    return q_agents.sum(0)


class QMixer(nn.Module):
    """QMIX monotonic mixing network (Rashid et al. 2018, "QMIX: Monotonic Value Function Factorisation for
    Deep Multi-Agent Reinforcement Learning").

    Q_tot(s) = w2(s)^T ELU(W1(s)^T q + b1(s)) + V(s), with W1, w2 produced by hypernetworks from the global
    state and made non-negative by ``abs``. ELU is increasing and the weights are >= 0, so dQ_tot/dQ_i >= 0:
    the per-agent argmax is the joint argmax. Biases b1(s) and V(s) may be negative; V is a 2-layer hypernet
    (ReLU) as in the paper.

    Sizes: the QMIX paper uses ``embed_dim`` 32 and single-linear-layer weight hypernets
    (``hypernet_hidden=None`` here); PyMARL's ``hypernet_layers: 2`` option puts one ReLU hidden layer in
    them. The MATRL paper (Wen et al. 2021, Table 4) lists a 2-layer, 128-wide mixing network for its
    baselines, so the defaults are ``embed_dim=128`` and two-layer weight hypernets with 128 hidden units.
    """

    def __init__(
        self, num_agents: int, state_dim: int, embed_dim: int = 128, hypernet_hidden: int | None = 128
    ) -> None:
        super().__init__()
        if num_agents < 1 or state_dim < 1 or embed_dim < 1:
            raise ValueError(
                f"num_agents, state_dim, embed_dim must be >= 1, got {num_agents}, {state_dim}, {embed_dim}"
            )
        if hypernet_hidden is not None and hypernet_hidden < 1:
            raise ValueError(f"hypernet_hidden must be >= 1 or None, got {hypernet_hidden}")
        self.num_agents = num_agents
        self.state_dim = state_dim
        self.embed_dim = embed_dim
        self.hyper_w1 = _hypernet(state_dim, num_agents * embed_dim, hypernet_hidden)
        self.hyper_w2 = _hypernet(state_dim, embed_dim, hypernet_hidden)
        self.hyper_b1 = nn.Linear(state_dim, embed_dim)
        self.hyper_v = nn.Sequential(nn.Linear(state_dim, embed_dim), nn.ReLU(), nn.Linear(embed_dim, 1))

    def forward(self, q_agents: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """``q_agents`` (A, B), ``state`` (B, state_dim) -> Q_tot (B,)."""
        if q_agents.dim() != 2 or q_agents.shape[0] != self.num_agents:
            raise ValueError(
                f"expected agent Q-values of shape ({self.num_agents}, batch), got {tuple(q_agents.shape)}"
            )
        batch = q_agents.shape[1]
        if state.shape != (batch, self.state_dim):
            raise ValueError(f"expected state of shape ({batch}, {self.state_dim}), got {tuple(state.shape)}")
        w1 = torch.abs(self.hyper_w1(state)).view(batch, self.num_agents, self.embed_dim)
        b1 = self.hyper_b1(state).view(batch, 1, self.embed_dim)
        hidden = nn.functional.elu(torch.bmm(q_agents.t().unsqueeze(1), w1) + b1)  # (B, 1, embed)
        w2 = torch.abs(self.hyper_w2(state)).view(batch, self.embed_dim, 1)
        q_tot = torch.bmm(hidden, w2).view(batch) + self.hyper_v(state).view(batch)
        return q_tot


def _hypernet(in_features: int, out_features: int, hidden: int | None) -> nn.Module:
    """One linear layer (QMIX paper) or linear-ReLU-linear (PyMARL ``hypernet_layers: 2``)."""
    if hidden is None:
        return nn.Linear(in_features, out_features)
    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, out_features))


def epsilon_schedule(step: int, start: float = 1.0, end: float = 0.05, anneal_steps: int = 50_000) -> float:
    """Exploration rate for epsilon-greedy: linear from ``start`` to ``end`` over ``anneal_steps`` env steps,
    then held at ``end``. The defaults are PyMARL's (``epsilon_start: 1.0``, ``epsilon_finish: 0.05``,
    ``epsilon_anneal_time: 50000`` in its QMIX/VDN/QTRAN configs)."""
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if anneal_steps < 1:
        raise ValueError(f"anneal_steps must be >= 1, got {anneal_steps}")
    fraction = min(step / anneal_steps, 1.0)
    return start + fraction * (end - start)


def double_q_targets(
    q_next_online: torch.Tensor,
    q_next_target: torch.Tensor,
    available_next: torch.Tensor | None = None,
) -> torch.Tensor:
    """Double-Q next values per agent (van Hasselt et al. 2016, "Deep Reinforcement Learning with Double
    Q-learning"): the online net picks argmax_k Q_online(o', k), the target net evaluates it. Decoupling
    selection from evaluation removes the max operator's overestimation bias.

    ``q_next_*``: (A, B, K); ``available_next``: optional (A, B, K) bool mask of legal actions (the online
    argmax never picks an illegal one). Returns (A, B), detached: it is a regression target.
    """
    if q_next_online.dim() != 3 or q_next_online.shape != q_next_target.shape:
        raise ValueError(
            "expected online and target Q-values of the same shape (agents, batch, actions), got "
            f"{tuple(q_next_online.shape)} and {tuple(q_next_target.shape)}"
        )
    scores = q_next_online.detach()
    if available_next is not None:
        if available_next.shape != scores.shape:
            raise ValueError(
                f"available_next has shape {tuple(available_next.shape)}, expected {tuple(scores.shape)}"
            )
        scores = scores.masked_fill(~available_next.bool(), float("-inf"))
    best = scores.argmax(-1, keepdim=True)
    return q_next_target.detach().gather(-1, best).squeeze(-1)


def td_targets(
    rewards: torch.Tensor, terminated: torch.Tensor, next_value: torch.Tensor, gamma: float
) -> torch.Tensor:
    """One-step targets y = r + gamma * (1 - terminated) * next_value, detached.

    Shapes broadcast: a joint learner passes (B,) team rewards and Q_tot(s', .) of shape (B,); independent
    per-agent targets pass (A, B) with terminated (B,). Only termination stops the bootstrap; a truncated
    episode still bootstraps from its last observation.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
    not_done = 1.0 - terminated.to(next_value.dtype)
    return (rewards + gamma * not_done * next_value).detach()
