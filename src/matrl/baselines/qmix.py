"""QMIX (Rashid et al. 2018): a state-conditioned mixing network, monotone in every agent's value.

Q_tot = f_s(Q_1, ..., Q_n) with non-negative hypernetwork weights (`matrl.learners.mixers.QMixer`), trained
by double-Q TD on the team reward with a target mixer: y = r + gamma * f^-_{s'}(Q_i^-(o'_i, argmax Q_i)).
Monotonicity keeps the per-agent argmax jointly greedy while allowing non-additive team values.
"""

from __future__ import annotations

import torch
from torch import nn

from matrl.baselines.value_decomposition import QBatch, ValueDecomposition
from matrl.learners.mixers import QMixer, td_targets


class QMIX(ValueDecomposition):
    """QMIX with the paper's 2-layer, 128-wide mixing network (Table 4)."""

    def build_mixer(self) -> nn.Module:
        embed = self.config.value.mixer_embed
        return QMixer(self.n_agents, self.state_dim, embed_dim=embed, hypernet_hidden=embed)

    def joint_loss(self, batch: QBatch) -> tuple[torch.Tensor, dict[str, float]]:
        q_tot = self.mixer(batch.q_taken, batch.state)
        with torch.no_grad():
            next_tot = self.target_mixer(batch.next_values, batch.next_state)
        target = td_targets(batch.team_reward, batch.terminated, next_tot, self.config.value.gamma)
        return ((q_tot - target) ** 2).mean(), {"q_tot_mean": q_tot.mean().item()}
