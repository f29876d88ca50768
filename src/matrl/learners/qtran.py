"""QTRAN-base losses (Son et al. 2019, "QTRAN: Learning to Factorize with Transformation for Cooperative
Multi-Agent Reinforcement Learning", ICML, Sec. 3.2) as pure functions of tensors, plus small Q_jt/V_jt nets.

QTRAN learns an unrestricted joint value Q_jt(s, u) by TD, and trains the individual Q_i so that their sum
Q'_jt = sum_i Q_i, shifted by a state value V_jt(s), equals Q_jt at the greedy joint action ū = (argmax Q_i)_i
and upper-bounds it elsewhere (the paper's Theorem 1 conditions):

    L_td   = (Q_jt(s, u) - y)^2,          y = r + gamma * Q_jt^-(s', ū')   (target network, DQN-style)
    L_opt  = (Q'_jt(s, ū) - Q̂_jt(s, ū) + V_jt(s))^2
    L_nopt = (min[Q'_jt(s, u) - Q̂_jt(s, u) + V_jt(s), 0])^2

Q̂_jt is Q_jt with its parameters held fixed in L_opt and L_nopt (the paper's hat notation): those two losses
move only the individual Q_i and V_jt, while Q_jt is fitted by L_td alone. PyMARL's ``qtran_learner`` does the
same (``joint_qs.detach()`` in both, no target network there) and uses weights ``opt_loss: 1``,
``nopt_min_loss: 0.1`` (``config/algs/qtran.yaml``), which are the defaults here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from matrl.learners.networks import BatchedMLP


def qtran_losses(
    q_joint_taken: torch.Tensor,
    q_joint_greedy: torch.Tensor,
    v_joint: torch.Tensor,
    q_sum_taken: torch.Tensor,
    q_sum_greedy: torch.Tensor,
    td_target: torch.Tensor,
    lambda_opt: float = 1.0,
    lambda_nopt: float = 0.1,
) -> dict[str, torch.Tensor]:
    """QTRAN-base losses, each a batch mean (scalar); every input has shape (B,).

    - ``q_joint_taken``: Q_jt(s, u) at the taken joint action (online net). Gets gradient from L_td only.
    - ``q_joint_greedy``: Q_jt(s, ū) at the individual greedy actions (online net, as PyMARL and the
      authors do; not the target net). Detached here: it only enters L_opt as Q̂_jt.
    - ``v_joint``: V_jt(s). Gets gradient from L_opt and L_nopt.
    - ``q_sum_taken`` / ``q_sum_greedy``: sum_i Q_i(o_i, u_i) at the taken / greedy actions (the greedy one
      is sum_i max_k Q_i(o_i, k)). Get gradient from L_nopt / L_opt.
    - ``td_target``: y = r + gamma * (1 - terminated) * Q_jt^-(s', ū'); detached here (see `td_targets`).

    Returns ``td``, ``opt``, ``nopt`` and ``total = td + lambda_opt * opt + lambda_nopt * nopt``.
    """
    inputs = {
        "q_joint_taken": q_joint_taken,
        "q_joint_greedy": q_joint_greedy,
        "v_joint": v_joint,
        "q_sum_taken": q_sum_taken,
        "q_sum_greedy": q_sum_greedy,
        "td_target": td_target,
    }
    for name, value in inputs.items():
        if value.dim() != 1 or value.shape != q_joint_taken.shape:
            raise ValueError(f"{name} has shape {tuple(value.shape)}, expected ({q_joint_taken.shape[0]},)")
    td = ((q_joint_taken - td_target.detach()) ** 2).mean()
    opt = ((q_sum_greedy - q_joint_greedy.detach() + v_joint) ** 2).mean()
    # Only violations of sum_i Q_i + V >= Q_jt at the taken action are penalised (one-sided constraint).
    nopt = (torch.clamp(q_sum_taken - q_joint_taken.detach() + v_joint, max=0.0) ** 2).mean()
    total = td + lambda_opt * opt + lambda_nopt * nopt
    return {"td": td, "opt": opt, "nopt": nopt, "total": total}


class JointActionValue(nn.Module):
    """Centralised Q_jt(s, u): an MLP on the global state and the one-hot joint action; (B,) per call.

    The QTRAN paper feeds the agents' hidden features instead of a global state; with feed-forward agents and
    a global state available (as QMIX uses) the state is the natural input here.
    """

    def __init__(
        self, state_dim: int, num_agents: int, n_actions: int, hidden: Sequence[int] = (128, 128)
    ) -> None:
        super().__init__()
        self.num_agents = num_agents
        self.n_actions = n_actions
        self.net = BatchedMLP(1, state_dim + num_agents * n_actions, 1, hidden=hidden)

    def forward(self, state: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``state`` (B, state_dim), ``actions`` (A, B) int64 -> Q_jt (B,)."""
        if actions.dim() != 2 or actions.shape[0] != self.num_agents or actions.shape[1] != state.shape[0]:
            raise ValueError(
                f"expected actions of shape ({self.num_agents}, {state.shape[0]}), got {tuple(actions.shape)}"
            )
        one_hot = nn.functional.one_hot(actions.long(), self.n_actions).to(state.dtype)  # (A, B, K)
        joint = one_hot.permute(1, 0, 2).reshape(state.shape[0], -1)
        out: torch.Tensor = self.net(torch.cat([state, joint], dim=-1).unsqueeze(0))
        return out.view(-1)


class StateValue(nn.Module):
    """V_jt(s): an MLP on the global state; (B,). It absorbs the gap between Q_jt and sum_i Q_i at ū."""

    def __init__(self, state_dim: int, hidden: Sequence[int] = (128, 128)) -> None:
        super().__init__()
        self.net = BatchedMLP(1, state_dim, 1, hidden=hidden)

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        """``state`` (B, state_dim) -> (B,)."""
        out: torch.Tensor = self.net(state.unsqueeze(0))
        return out.view(-1)
