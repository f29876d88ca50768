"""VDN (Sunehag et al. 2018): the team value is the sum of the agents' values, Q_tot = sum_i Q_i(o_i, u_i).

Trained by one-step double-Q TD on the team reward: y = r + gamma * sum_i Q_i^-(o'_i, argmax Q_i(o'_i, .)).
Additivity makes every agent's greedy action jointly greedy, so execution stays decentralised.
"""

from __future__ import annotations

import torch
from torch import nn

from matrl.baselines.value_decomposition import QBatch, ValueDecomposition
from matrl.learners.mixers import td_targets, vdn_mix


class VDN(ValueDecomposition):
    """Value-decomposition networks: no trainable mixer."""

    def build_mixer(self) -> nn.Module:
        return nn.Module()

    def joint_loss(self, batch: QBatch) -> tuple[torch.Tensor, dict[str, float]]:
        q_tot = vdn_mix(batch.q_taken)
        target = td_targets(
            batch.team_reward, batch.terminated, vdn_mix(batch.next_values), self.config.value.gamma
        )
        return ((q_tot - target) ** 2).mean(), {"q_tot_mean": q_tot.mean().item()}
