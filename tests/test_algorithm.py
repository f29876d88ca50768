"""Deep MATRL (Algorithm 1): meta-game from real networks, mixture, best-response weights, ablations."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import torch

from matrl.algorithm import MATRL
from matrl.config import PPOConfig, TrainConfig, preset
from matrl.learners.distributions import mixture_log_prob
from matrl.learners.update import LossWeights, Samples, agent_losses
from matrl.rollout import LocalCollector


def small_config(env: str, algo: str = "matrl", **changes: object) -> TrainConfig:
    """The env's preset with small networks and batches, so that an iteration takes milliseconds."""
    base = preset(env)
    return dataclasses.replace(
        base, algo=algo, batch_size=64, num_envs=8, hidden=(16,), total_steps=128, **changes
    )  # type: ignore[arg-type]


def make_learner(config: TrainConfig) -> MATRL:
    return MATRL(config, LocalCollector(config.env, config.num_envs, **config.env_kwargs))


# ---------------------------------------------------------------- meta-game on a one-state game
def _exact_gains(payoffs: np.ndarray, current: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """g_i(s) = E_{pi_s}[r_i] - E_pi[r_i] for every profile s (Eq. 3 with one state and one step)."""
    n = current.shape[0]

    def value(probs: list[np.ndarray]) -> np.ndarray:
        total = np.zeros(n)
        for joint in itertools.product(range(probs[0].shape[0]), repeat=n):
            total += np.prod([probs[j][joint[j]] for j in range(n)]) * payoffs[(slice(None), *joint)]
        return total

    base = value(list(current))
    out = np.zeros((n,) + (2,) * n)
    for profile in itertools.product(range(2), repeat=n):
        mixed = [predicted[j] if profile[j] else current[j] for j in range(n)]
        out[(slice(None), *profile)] = value(mixed) - base
    return out


def test_meta_game_of_the_real_pipeline_matches_the_closed_form() -> None:
    """Collect -> GAE -> predicted PPO step -> estimator, against the exact expected advantages."""
    config = dataclasses.replace(
        small_config("matrix_v0"),
        batch_size=40_000,
        num_envs=400,
        ppo=PPOConfig(lr=0.05, update_iters=5, normalize_advantages=False, value_clip=None, target_kl=None),
        env_kwargs={"game": "stag_hunt"},
    )
    config = dataclasses.replace(config, meta=dataclasses.replace(config.meta, meta_ratio_clip=None))
    learner = make_learner(config)
    one_state = torch.ones(2, 1, 1)
    with torch.no_grad():
        current = torch.softmax(learner.net.distribution_params(one_state), -1)[:, 0].double().numpy()
    samples = learner.prepare(learner.collect())
    learner.predict(samples)
    with torch.no_grad():
        predicted = torch.softmax(learner.net.distribution_params(one_state), -1)[:, 0].double().numpy()
        logp_predicted = learner.net.log_prob(samples.obs, samples.actions)
    assert np.abs(predicted - current).max() > 0.02  # the predicted step really moved
    estimate = learner.meta_game(samples, logp_predicted)
    payoffs = learner.collector.core.payoffs  # type: ignore[attr-defined]
    exact = _exact_gains(np.asarray(payoffs, dtype=np.float64), current, predicted)
    assert estimate[:, 0, 0].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(estimate, exact, atol=0.03)


def test_meta_game_is_zero_when_the_predicted_policy_equals_the_current_one() -> None:
    learner = make_learner(small_config("checkers_v0"))
    samples = learner.prepare(learner.collect())
    payoffs = learner.meta_game(samples, samples.logp.clone())
    assert payoffs.shape == (2, 2, 2)
    np.testing.assert_allclose(payoffs, 0.0, atol=1e-7)


# ---------------------------------------------------------------- mixture and best response, by hand
def test_policy_mixture_log_prob_by_hand() -> None:
    logp_current = torch.log(torch.tensor([[0.5, 0.2], [0.1, 0.9]]))
    logp_predicted = torch.log(torch.tensor([[0.3, 0.6], [0.4, 0.5]]))
    rho = torch.tensor([0.25, 1.0], dtype=torch.float64)
    got = mixture_log_prob(logp_current, logp_predicted, rho).exp()
    expected = torch.tensor([[0.25 * 0.5 + 0.75 * 0.3, 0.25 * 0.2 + 0.75 * 0.6], [0.1, 0.9]])
    torch.testing.assert_close(got, expected)


def test_best_response_weights_are_the_others_truncated_ratios() -> None:
    """Three agents, two samples: c_-i = prod_{j != i} clip(pibar_j / pi_j, 0.9, 1.1), computed by hand."""
    learner = make_learner(small_config("switch4_v0"))
    ratios = np.array([[1.05, 0.5], [1.3, 1.0], [0.95, 0.97], [1.0, 2.0]])  # pibar_j / pi_j, agents x samples
    logp = torch.log(torch.full((4, 2), 0.4))
    logp_bar = logp + torch.log(torch.tensor(ratios, dtype=torch.float32))
    samples = Samples(
        obs=torch.zeros(4, 2, learner.collector.obs_dim),
        actions=torch.zeros(4, 2, dtype=torch.long),
        logp=logp,
        values=torch.zeros(4, 2),
        advantages=torch.ones(4, 2),
        returns=torch.zeros(4, 2),
    )
    _, weights = learner.best_response(samples, logp_bar)
    clipped = np.clip(ratios, 0.9, 1.1)
    expected = np.stack([np.prod(np.delete(clipped, i, axis=0), axis=0) for i in range(4)])
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-5)


def test_weighted_surrogate_loss_by_hand() -> None:
    """One agent, two samples: loss = -mean(w * min(r A, clip(r) A)) + value, entropy and KL terms."""
    net = MATRL(small_config("checkers_v0"), LocalCollector("checkers_v0", 8)).net
    obs = torch.zeros(2, 2, 11)
    actions = torch.tensor([[0, 1], [2, 3]])
    with torch.no_grad():
        logp, entropy, values = net.evaluate(obs, actions)
    # Behaviour log-probs chosen so that the ratios are 1.2 (clipped to 1.1 for A > 0) and 0.8.
    logp_old = logp - torch.log(torch.tensor([[1.2, 0.8], [1.0, 1.0]]))
    adv = torch.tensor([[1.0, -2.0], [0.5, 0.5]])
    samples = Samples(obs, actions, logp_old, values.clone(), adv, values + 1.0)
    weights = LossWeights(clip_ratio=0.1, value_coef=0.5, entropy_coef=0.01, kl_coef=0.0, value_clip=None)
    w = torch.tensor([[2.0, 0.5], [1.0, 1.0]])
    with torch.no_grad():
        total, parts = agent_losses(net, samples, weights, sample_weights=w)
    # sample 1: min(1.2 * 1, 1.1 * 1) = 1.1, weight 2; sample 2: min(0.8 * -2, 0.9 * -2) = -1.8, weight 0.5
    expected_policy = -(2.0 * 1.1 + 0.5 * -1.8) / 2
    assert parts["policy_loss"][0].item() == pytest.approx(expected_policy, rel=1e-5)
    assert parts["value_loss"][0].item() == pytest.approx(0.5, rel=1e-5)  # 0.5 * mean((V - (V + 1))^2)
    expected_total = expected_policy + 0.5 * 0.5 - 0.01 * entropy[0].mean().item()
    assert total[0].item() == pytest.approx(expected_total, rel=1e-5)


# ---------------------------------------------------------------- every algorithm runs, ablations are exact
@pytest.mark.parametrize("env", ["checkers_v0", "switch4_v0", "matrix_v0"])
@pytest.mark.parametrize("algo", ["matrl", "il", "il-pp", "matrl-nobr", "il-matched", "keep", "placebo"])
def test_two_iterations_of_every_algorithm(env: str, algo: str) -> None:
    learner = make_learner(small_config(env, algo))
    n = learner.n_agents
    before = [p.detach().clone() for p in learner.net.parameters()]
    for _ in range(2):
        result = learner.iteration()
    assert learner.iteration_count == 2 and learner.env_steps == 128
    assert any(not torch.equal(a, b) for a, b in zip(before, learner.net.parameters(), strict=True))
    metrics = result.metrics
    has_rho = algo != "il"
    assert all((f"rho_{i}" in metrics) == has_rho for i in range(n))
    # Every algorithm but IL estimates the meta-game: MATRL to solve it, the others for its diagnostics.
    assert ("g0_" + "1" * n in metrics) == has_rho
    assert ("own_gain_0" in metrics) == has_rho
    assert ("nash_conv" in metrics) == (algo in ("matrl", "matrl-nobr"))
    assert ("br_steps" in metrics) == (algo not in ("il", "matrl-nobr"))
    if algo == "il-pp":
        assert all(metrics[f"rho_{i}"] == 0.0 for i in range(n))
    if algo in ("il-matched", "keep"):
        assert all(metrics[f"rho_{i}"] == 1.0 for i in range(n))
    if algo == "placebo":
        assert all(metrics[f"rho_{i}"] in (0.0, 1.0) for i in range(n))
    if has_rho:
        assert all(0.0 <= metrics[f"rho_{i}"] <= 1.0 for i in range(n))
    if algo in ("matrl", "matrl-nobr"):
        assert metrics["nash_fallback"] == 0.0
    assert set(result.phase_seconds) >= {"collect", "predict"}


def test_il_pp_with_params_mixture_equals_policy_mixture() -> None:
    """rho = 0 makes pibar = pihat in both modes, so the two paths must agree exactly."""
    results = []
    for mode in ("policy", "params"):
        config = small_config("checkers_v0", "il-pp")
        config = dataclasses.replace(config, meta=dataclasses.replace(config.meta, mixture=mode))
        learner = make_learner(config)
        learner.iteration()
        results.append([p.detach().clone() for p in learner.net.parameters()])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_params_mixture_interpolates_weights_per_agent() -> None:
    config = small_config("checkers_v0", "matrl-nobr")
    learner = make_learner(config)
    samples = learner.prepare(learner.collect())
    import copy

    current = copy.deepcopy(learner.net)
    learner.predict(samples)
    predicted = copy.deepcopy(learner.net)
    rho = torch.tensor([0.25, 1.0], dtype=torch.float64)
    learner.fixed_point(samples, samples.logp, rho, current)
    for mixed, cur, pred in zip(
        learner.net.parameters(), current.parameters(), predicted.parameters(), strict=True
    ):
        torch.testing.assert_close(mixed[0], 0.25 * cur[0] + 0.75 * pred[0])
        torch.testing.assert_close(mixed[1], cur[1])


def test_same_seed_same_numbers_and_different_seed_different_numbers() -> None:
    def run(seed: int) -> list[float]:
        learner = make_learner(small_config("checkers_v0", seed=seed))
        out = []
        for _ in range(2):
            metrics = learner.iteration().metrics
            out += [metrics["predict_approx_kl"], metrics["rho_0"], metrics["br_policy_loss"]]
        return out

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_nan_weights_are_a_clear_error() -> None:
    learner = make_learner(small_config("checkers_v0"))
    with torch.no_grad():
        next(learner.net.policy.parameters())[1].fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="policy of agent 1 outputs NaN"):
        learner.iteration()


def test_nan_loss_is_a_clear_error() -> None:
    learner = make_learner(small_config("checkers_v0"))
    samples = learner.prepare(learner.collect())
    advantages = samples.advantages.clone()
    advantages[1, 3] = float("nan")
    with pytest.raises(FloatingPointError, match="predicted-step loss of agent 1 is nan"):
        learner.predict(dataclasses.replace(samples, advantages=advantages))
