"""GAE over (T, E, A) against a direct per-sequence computation."""

from __future__ import annotations

import numpy as np

from matrl.learners.gae import gae


def _reference(rewards, values, next_values, terminal, over, gamma, lam):  # type: ignore[no-untyped-def]
    horizon, envs, agents = rewards.shape
    adv = np.zeros_like(rewards)
    for e in range(envs):
        for a in range(agents):
            for t in range(horizon):
                total, discount = 0.0, 1.0
                for k in range(t, horizon):
                    bootstrap = 0.0 if terminal[k, e] else next_values[k, e, a]
                    delta = rewards[k, e, a] + gamma * bootstrap - values[k, e, a]
                    total += discount * delta
                    if over[k, e]:
                        break
                    discount *= gamma * lam
                adv[t, e, a] = total
    return adv


def test_gae_matches_direct_sum_with_terminations_and_truncations() -> None:
    rng = np.random.default_rng(0)
    shape = (9, 3, 2)
    rewards, values, next_values = (rng.normal(size=shape) for _ in range(3))
    over = rng.random((9, 3)) < 0.3
    terminal = over & (rng.random((9, 3)) < 0.5)
    adv, returns = gae(rewards, values, next_values, terminal[..., None], over, gamma=0.9, lam=0.8)
    np.testing.assert_allclose(adv, _reference(rewards, values, next_values, terminal, over, 0.9, 0.8))
    np.testing.assert_allclose(returns, adv + values)


def test_lambda_one_gives_discounted_return_minus_value() -> None:
    rewards = np.ones((4, 1, 1))
    values = np.zeros((4, 1, 1))
    over = np.array([[False], [False], [False], [True]])
    adv, _ = gae(rewards, values, np.zeros((4, 1, 1)), over[..., None], over, gamma=0.5, lam=1.0)
    np.testing.assert_allclose(adv[:, 0, 0], [1.875, 1.75, 1.5, 1.0])


def test_truncation_bootstraps_from_the_final_value() -> None:
    rewards = np.zeros((1, 1, 1))
    adv_truncated, _ = gae(rewards, np.zeros_like(rewards), np.full((1, 1, 1), 2.0), False, True, 0.5, 0.9)
    adv_terminated, _ = gae(rewards, np.zeros_like(rewards), np.full((1, 1, 1), 2.0), True, True, 0.5, 0.9)
    assert adv_truncated.item() == 1.0
    assert adv_terminated.item() == 0.0
