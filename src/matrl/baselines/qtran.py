"""QTRAN-base (Son et al. 2019): an unrestricted joint value Q_jt learned by TD, and individual values
trained so that sum_i Q_i + V_jt matches Q_jt at the greedy joint action and upper-bounds it elsewhere.

The losses are `matrl.learners.qtran.qtran_losses` (L_td + lambda_opt L_opt + lambda_nopt L_nopt). The TD
target uses the target Q_jt at the next greedy joint action ū' = (argmax_k Q_i(o'_i, k))_i of the online
agents (double-Q; without it, of the target agents), as PyMARL's QTRAN learner does.
"""

from __future__ import annotations

import torch
from torch import nn

from matrl.baselines.value_decomposition import QBatch, ValueDecomposition
from matrl.learners.mixers import td_targets
from matrl.learners.qtran import JointActionValue, StateValue, qtran_losses


class QTRAN(ValueDecomposition):
    """QTRAN-base with 2 x 128 joint-action and state-value networks."""

    extra_diagnostics = ("qtran_td", "qtran_opt", "qtran_nopt")

    def build_mixer(self) -> nn.Module:
        hidden = (self.config.value.mixer_embed,) * 2
        return nn.ModuleDict(
            {
                "joint": JointActionValue(self.state_dim, self.n_agents, self.n_actions, hidden=hidden),
                "value": StateValue(self.state_dim, hidden=hidden),
            }
        )

    def joint_loss(self, batch: QBatch) -> tuple[torch.Tensor, dict[str, float]]:
        v = self.config.value
        assert isinstance(self.mixer, nn.ModuleDict) and isinstance(self.target_mixer, nn.ModuleDict)
        joint, state_value = self.mixer["joint"], self.mixer["value"]
        greedy = batch.q.argmax(-1)
        q_joint_taken = joint(batch.state, batch.actions)
        q_joint_greedy = joint(batch.state, greedy)
        with torch.no_grad():
            next_joint = self.target_mixer["joint"](batch.next_state, batch.next_greedy)
        target = td_targets(batch.team_reward, batch.terminated, next_joint, v.gamma)
        losses = qtran_losses(
            q_joint_taken=q_joint_taken,
            q_joint_greedy=q_joint_greedy,
            v_joint=state_value(batch.state),
            q_sum_taken=batch.q_taken.sum(0),
            q_sum_greedy=batch.q.max(-1).values.sum(0),
            td_target=target,
            lambda_opt=v.qtran_opt_coef,
            lambda_nopt=v.qtran_nopt_coef,
        )
        stats = {f"qtran_{name}": value.item() for name, value in losses.items() if name != "total"}
        stats["q_tot_mean"] = q_joint_taken.mean().item()
        return losses["total"], stats
