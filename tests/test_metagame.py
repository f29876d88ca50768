"""The meta-game estimator against closed-form expected advantages on one-state matrix games."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from matrl.gametheory.metagame import estimate_meta_game


def _exact_meta_game(payoffs: np.ndarray, current: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """g_i(s) = V_i(s) - V_i(current) in a stateless game (Eq. 3 with one state)."""
    n = current.shape[0]

    def value(probs: np.ndarray) -> np.ndarray:
        total = np.zeros(n)
        for joint in itertools.product(range(2), repeat=n):
            weight = np.prod([probs[j][joint[j]] for j in range(n)])
            total += weight * payoffs[(slice(None), *joint)]
        return total

    base = value(current)
    meta = np.zeros((n,) + (2,) * n)
    for profile in itertools.product(range(2), repeat=n):
        probs = np.array([predicted[j] if profile[j] else current[j] for j in range(n)])
        meta[(slice(None), *profile)] = value(probs) - base
    return meta


@pytest.mark.parametrize("n", [2, 3])
def test_estimate_converges_to_exact_expected_advantages(n: int) -> None:
    rng = np.random.default_rng(n)
    payoffs = rng.uniform(-1, 1, size=(n,) + (2,) * n)
    current = rng.dirichlet([3, 3], size=n)
    predicted = np.clip(current + rng.uniform(-0.15, 0.15, size=(n, 1)) * np.array([1, -1]), 0.05, 0.95)
    samples = 400_000
    actions = np.stack([rng.random(samples) < current[j, 1] for j in range(n)]).astype(int)  # (n, B)
    rewards = np.stack([payoffs[(i, *actions)] for i in range(n)])
    exact_values = _exact_meta_game(payoffs, current, current)[(slice(None),) + (0,) * n]
    assert np.allclose(exact_values, 0.0)
    values = np.array(
        [
            sum(
                np.prod([current[j][joint[j]] for j in range(n)]) * payoffs[(i, *joint)]
                for joint in itertools.product(range(2), repeat=n)
            )
            for i in range(n)
        ]
    )
    advantages = rewards - values[:, None]  # exact advantages of the sampled joint actions under pi
    log_ratios = np.log(np.take_along_axis(predicted, actions, axis=1)) - np.log(
        np.take_along_axis(current, actions, axis=1)
    )
    estimate = estimate_meta_game(advantages, log_ratios)
    exact = _exact_meta_game(payoffs, current, predicted)
    assert estimate[(slice(None),) + (0,) * n].tolist() == [0.0] * n
    np.testing.assert_allclose(estimate, exact, atol=0.01)


def test_all_zero_when_predicted_equals_current() -> None:
    rng = np.random.default_rng(0)
    estimate = estimate_meta_game(rng.normal(size=(3, 500)), np.zeros((3, 500)))
    assert estimate.shape == (3, 2, 2, 2)
    assert np.max(np.abs(estimate)) < 1e-12


def test_mean_of_products_not_product_of_means() -> None:
    # Two samples: agent 1's ratio is high exactly where agent 0's advantage is high.
    advantages = np.array([[1.0, -1.0], [0.0, 0.0]])
    log_ratios = np.log(np.array([[1.0, 1.0], [1.5, 0.5]]))
    estimate = estimate_meta_game(advantages, log_ratios)
    # g_0(keep, switch) = mean(w_1 * A_0) = (1.5 - 0.5) / 2 = 0.5; a product of means would give 0.
    assert estimate[0, 0, 1] == pytest.approx(0.5)


def test_ratio_truncation_and_bad_input() -> None:
    advantages = np.array([[1.0, -1.0]])
    log_ratios = np.log(np.array([[3.0, 1.0]]))
    assert estimate_meta_game(advantages, log_ratios, ratio_clip=0.1)[0, 1] == pytest.approx((1.1 - 1.0) / 2)
    with pytest.raises(ValueError, match="NaN"):
        estimate_meta_game(np.array([[np.nan, 1.0]]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="ratio_clip"):
        estimate_meta_game(advantages, log_ratios, ratio_clip=1.5)
    with pytest.raises(ValueError, match="agents, samples"):
        estimate_meta_game(np.zeros((2, 3)), np.zeros((2, 4)))
