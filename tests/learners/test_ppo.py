"""PPO losses on small hand-checked batches."""

from __future__ import annotations

import math

import torch

from matrl.learners import ppo


def test_clipped_surrogate_hand_checked() -> None:
    # Ratios 1.5 (clipped to 1.2 for a positive advantage), 0.5 (kept for a positive one: min picks 0.5),
    # 0.5 with a negative advantage (clipped to 0.8: min(-0.5, -0.8) = -0.8).
    logp_old = torch.zeros(1, 3)
    logp = torch.log(torch.tensor([[1.5, 0.5, 0.5]]))
    adv = torch.tensor([[1.0, 1.0, -1.0]])
    loss = ppo.clipped_surrogate_loss(logp, logp_old, adv, clip_ratio=0.2)
    torch.testing.assert_close(loss, torch.tensor([-(1.2 + 0.5 - 0.8) / 3]))
    weighted = ppo.clipped_surrogate_loss(
        logp, logp_old, adv, 0.2, sample_weights=torch.tensor([[2.0, 0.0, 1.0]])
    )
    torch.testing.assert_close(weighted, torch.tensor([-(2.4 - 0.8) / 3]))


def test_losses_are_per_agent() -> None:
    logp = torch.tensor([[0.0, 0.0], [math.log(2.0), 0.0]])
    adv = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    loss = ppo.clipped_surrogate_loss(logp, torch.zeros(2, 2), adv, 0.1)
    torch.testing.assert_close(loss, torch.tensor([-1.0, -(1.1 + 1.0) / 2]))


def test_value_loss_plain_and_clipped() -> None:
    values = torch.tensor([[2.0, 0.0]])
    returns = torch.tensor([[0.0, 0.0]])
    torch.testing.assert_close(ppo.value_loss(values, returns), torch.tensor([0.5 * (4.0 + 0.0) / 2]))
    # Behaviour value 1.0, clip 0.5: clipped prediction 1.5 -> error 2.25 < 4, so max keeps 4 for sample 0;
    # sample 1: behaviour 1.0, prediction 0.0 -> clipped 0.5 -> 0.25 > 0, max picks 0.25.
    clipped = ppo.value_loss(values, returns, values_behaviour=torch.tensor([[1.0, 1.0]]), clip=0.5)
    torch.testing.assert_close(clipped, torch.tensor([0.5 * (4.0 + 0.25) / 2]))


def test_kl_clip_fraction_explained_variance() -> None:
    logp_old = torch.log(torch.tensor([[0.5, 0.5]]))
    assert ppo.approx_kl(logp_old, logp_old).item() == 0.0
    logp = torch.log(torch.tensor([[0.6, 0.4]]))
    assert ppo.approx_kl(logp, logp_old).item() > 0.0
    torch.testing.assert_close(ppo.clip_fraction(logp, logp_old, 0.1), torch.tensor([1.0]))
    returns = torch.tensor([[1.0, 2.0, 3.0]])
    torch.testing.assert_close(ppo.explained_variance(returns, returns), torch.tensor([1.0]))
    assert torch.isnan(ppo.explained_variance(returns, torch.ones(1, 3))).all()
    normed = ppo.normalize_advantages(torch.tensor([[1.0, 2.0, 3.0], [5.0, 5.0, 8.0]]))
    torch.testing.assert_close(normed.mean(-1), torch.zeros(2), atol=1e-6, rtol=0)
    torch.testing.assert_close(normed.std(-1, unbiased=False), torch.ones(2), atol=1e-6, rtol=0)
