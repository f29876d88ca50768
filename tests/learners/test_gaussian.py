"""Continuous policies: the Gaussian head against scipy, the tanh-squashed density against a numerical
derivative of its CDF, exact mixture sampling (KS test) and log-density, and the running normaliser."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from matrl.envs.spec import ActionSpec
from matrl.learners.actor_critic import ActorCritic, interpolate_parameters
from matrl.learners.distributions import GaussianHead, mixture_log_prob, sample_mixture
from matrl.learners.normalization import RunningObsNorm


def uneven_spec() -> ActionSpec:
    """Agent 0 controls 2 entries in [-1, 1] x [0, 2]; agent 1 one entry in [-3, 1] (one padding entry)."""
    return ActionSpec.box([np.array([-1.0, 0.0]), np.array([-3.0])], [np.array([1.0, 2.0]), np.array([1.0])])


def params_for(mean: np.ndarray, log_std: np.ndarray) -> torch.Tensor:
    return torch.cat([torch.as_tensor(mean), torch.as_tensor(log_std)], -1).float()


def test_box_spec_pads_and_masks() -> None:
    spec = uneven_spec()
    assert spec.continuous and spec.dim == 2 and spec.action_shape == (2,)
    np.testing.assert_array_equal(spec.mask, [[True, True], [True, False]])
    np.testing.assert_array_equal(spec.low, [[-1, 0], [-3, -1]])
    with pytest.raises(ValueError, match="low < high"):
        ActionSpec.box([np.array([1.0])], [np.array([1.0])])


def test_clip_log_prob_and_entropy_match_scipy_and_ignore_padding() -> None:
    spec = uneven_spec()
    head = GaussianHead(spec, "clip")
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(2, 5, 2))
    log_std = rng.normal(scale=0.5, size=(2, 5, 2))
    actions = rng.normal(scale=2.0, size=(2, 5, 2))
    params = params_for(mean, log_std)
    logp = head.log_prob(params, torch.as_tensor(actions).float()).numpy()
    ref = stats.norm.logpdf(actions, mean, np.exp(log_std))
    np.testing.assert_allclose(logp[0], ref[0].sum(-1), rtol=1e-5)
    np.testing.assert_allclose(logp[1], ref[1, :, 0], rtol=1e-5)  # padding entry ignored
    ent = head.entropy(params).numpy()
    ref_ent = stats.norm.entropy(mean, np.exp(log_std))
    np.testing.assert_allclose(ent[0], ref_ent[0].sum(-1), rtol=1e-5)
    np.testing.assert_allclose(ent[1], ref_ent[1, :, 0], rtol=1e-5)
    # Changing the padding action changes nothing.
    moved = actions.copy()
    moved[1, :, 1] += 5.0
    np.testing.assert_array_equal(head.log_prob(params, torch.as_tensor(moved).float()).numpy(), logp)


def test_clip_env_action_stays_in_bounds_and_keeps_inner_actions() -> None:
    head = GaussianHead(uneven_spec(), "clip")
    actions = np.array(
        [[[0.5, 5.0], [-7.0, 3.0]], [[-2.0, 1.0], [0.2, 0.0]]], dtype=np.float32
    )  # (E, A, dim)
    out = head.env_action(actions)
    np.testing.assert_array_equal(out[0, 0], [0.5, 2.0])
    assert out[0, 1, 0] == -3.0 and out[1, 0, 0] == -1.0 and out[1, 1, 0] == np.float32(0.2)


def test_tanh_density_matches_numerical_derivative_of_its_cdf() -> None:
    """The density of a = c + h tanh(u), u ~ N(m, s), is d/da P(A <= a); compare at many points."""
    spec = ActionSpec.box([np.array([-3.0])], [np.array([1.0])])  # c = -1, h = 2
    head = GaussianHead(spec, "tanh")
    m, s = 0.3, 0.8
    u = np.linspace(-2.5, 2.5, 41)
    a = head.env_action(u.reshape(-1, 1, 1)).ravel().astype(np.float64)
    assert np.all((a > -3.0) & (a < 1.0))

    def cdf(x: np.ndarray) -> np.ndarray:
        return stats.norm.cdf((np.arctanh((x + 1.0) / 2.0) - m) / s)

    eps = 1e-6
    numeric = (cdf(a + eps) - cdf(a - eps)) / (2 * eps)
    params = params_for(np.full((1, len(u), 1), m), np.full((1, len(u), 1), np.log(s)))
    logp = head.log_prob(params, torch.as_tensor(u.reshape(1, -1, 1)).float()).numpy().ravel()
    np.testing.assert_allclose(np.exp(logp), numeric, rtol=2e-3)


def test_tanh_log_prob_is_finite_far_in_the_tails() -> None:
    head = GaussianHead(ActionSpec.box([np.array([-1.0])], [np.array([1.0])]), "tanh")
    u = torch.tensor([[[-30.0], [30.0]]])
    logp = head.log_prob(params_for(np.zeros((1, 2, 1)), np.zeros((1, 2, 1))), u)
    assert torch.isfinite(logp).all()


def test_samples_follow_the_gaussian_and_reproduce_with_a_seed() -> None:
    head = GaussianHead(ActionSpec.box([np.array([-1.0])], [np.array([1.0])]), "clip")
    params = params_for(np.full((1, 20000, 1), 0.7), np.full((1, 20000, 1), np.log(0.3)))
    draws = head.sample(params, torch.Generator().manual_seed(1))
    again = head.sample(params, torch.Generator().manual_seed(1))
    assert torch.equal(draws, again)
    assert stats.kstest(draws.numpy().ravel(), stats.norm(0.7, 0.3).cdf).pvalue > 0.01


def test_mixture_sampling_and_log_density_are_exact() -> None:
    """Draws of pibar = rho N(-1, .5) + (1 - rho) N(1.5, .3) pass a KS test against the mixture CDF, and
    exp(mixture_log_prob) integrates to 1 and equals the weighted sum of densities."""
    head = GaussianHead(ActionSpec.box([np.array([-1.0])] * 2, [np.array([1.0])] * 2), "clip")
    n = 20000
    cur = params_for(np.full((2, n, 1), -1.0), np.full((2, n, 1), np.log(0.5)))
    pred = params_for(np.full((2, n, 1), 1.5), np.full((2, n, 1), np.log(0.3)))
    rho = torch.tensor([0.3, 0.9], dtype=torch.float64)
    draws = sample_mixture(head, cur, pred, rho, torch.Generator().manual_seed(3)).numpy()
    for agent, r in enumerate((0.3, 0.9)):
        rv = float(r)

        def mixture_cdf(x: np.ndarray, rv: float = rv) -> np.ndarray:
            return rv * stats.norm.cdf(x, -1.0, 0.5) + (1 - rv) * stats.norm.cdf(x, 1.5, 0.3)

        assert stats.kstest(draws[agent].ravel(), mixture_cdf).pvalue > 0.01
    grid = torch.linspace(-4.0, 4.0, 4001).reshape(1, -1, 1).expand(2, -1, -1)
    gcur = params_for(np.full((2, 4001, 1), -1.0), np.full((2, 4001, 1), np.log(0.5)))
    gpred = params_for(np.full((2, 4001, 1), 1.5), np.full((2, 4001, 1), np.log(0.3)))
    logp_bar = mixture_log_prob(head.log_prob(gcur, grid), head.log_prob(gpred, grid), rho)
    density = logp_bar.exp().double().numpy()
    np.testing.assert_allclose(np.trapezoid(density, dx=8.0 / 4000, axis=1), [1.0, 1.0], atol=1e-4)
    x = grid[0, :, 0].double().numpy()
    ref = 0.3 * stats.norm.pdf(x, -1.0, 0.5) + 0.7 * stats.norm.pdf(x, 1.5, 0.3)
    np.testing.assert_allclose(density[0], ref, rtol=1e-4, atol=1e-9)


def test_continuous_actor_critic_has_a_state_independent_log_std_per_agent() -> None:
    torch.manual_seed(0)
    spec = uneven_spec()
    net = ActorCritic(2, 4, spec, (16,), log_std_init=-0.5)
    obs = torch.randn(2, 7, 4)
    params = net.distribution_params(obs)
    assert params.shape == (2, 7, 4)
    log_std = params[..., 2:]
    assert torch.all(log_std == -0.5)
    actions, logp, values = net.act(obs, torch.Generator().manual_seed(0))
    assert actions.shape == (2, 7, 2) and logp.shape == (2, 7) and values.shape == (2, 7)
    torch.testing.assert_close(net.log_prob(obs, actions), logp)
    # The params mixture interpolates the log-std too, per agent.
    other = ActorCritic(2, 4, spec, (16,), log_std_init=0.5)
    target = ActorCritic(2, 4, spec, (16,))
    interpolate_parameters(target, net, other, torch.tensor([1.0, 0.25]))
    assert net.log_std is not None and target.log_std is not None
    torch.testing.assert_close(target.log_std[0], torch.full((1, 2), -0.5))
    torch.testing.assert_close(target.log_std[1], torch.full((1, 2), 0.25))


def test_running_obs_norm_matches_numpy_over_chunks_and_is_saved() -> None:
    rng = np.random.default_rng(2)
    data = rng.normal(loc=[3.0, -2.0, 50.0], scale=[0.1, 4.0, 20.0], size=(2, 900, 3))
    norm = RunningObsNorm(2, 3)
    for chunk in np.split(data, [100, 550], axis=1):
        norm.update(torch.as_tensor(chunk))
    np.testing.assert_allclose(norm.mean.numpy()[:, 0], data.mean(1), rtol=1e-10)
    np.testing.assert_allclose(norm.var.numpy()[:, 0], data.var(1), rtol=1e-10)
    out = norm(torch.as_tensor(data, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(out.mean(1), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(1), 1.0, atol=1e-4)
    net = ActorCritic(2, 3, 4, (8,), obs_norm=True)
    assert net.obs_norm is not None
    net.obs_norm.update(torch.as_tensor(data))
    fresh = ActorCritic(2, 3, 4, (8,), obs_norm=True)
    fresh.load_state_dict(net.state_dict())
    assert fresh.obs_norm is not None
    torch.testing.assert_close(fresh.obs_norm.mean, net.obs_norm.mean)
