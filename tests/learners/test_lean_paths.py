"""The faster paths of collection and update compute exactly what the plain ones did (bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from matrl.envs.spec import ActionSpec
from matrl.learners.actor_critic import ActorCritic
from matrl.learners.distributions import CategoricalHead, MaskedCategoricalHead
from matrl.learners.update import adam
from matrl.rollout.policy import NetworkPolicy


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", [(2, 16, 5), (3, 257, 9), (1, 1, 2)])
def test_categorical_sample_draws_what_multinomial_draws(shape: tuple[int, ...], threads: int) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        logits = torch.randn(shape, generator=torch.Generator().manual_seed(0)) * 3.0
        ours, theirs = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
        for _ in range(10):
            probs = torch.softmax(logits, -1).reshape(-1, shape[-1])
            expected = torch.multinomial(probs, 1, generator=theirs).reshape(shape[:-1])
            assert torch.equal(CategoricalHead.sample(logits, ours), expected)
        assert torch.equal(ours.get_state(), theirs.get_state())
    finally:
        torch.set_num_threads(before)


def test_masked_sample_never_draws_a_missing_action_and_nan_logits_raise() -> None:
    head = MaskedCategoricalHead(ActionSpec.discrete_per_agent([2, 4]))
    drawn = head.sample(torch.zeros(2, 500, 4), torch.Generator().manual_seed(0))
    assert int(drawn[0].max()) == 1 and int(drawn[1].max()) == 3
    with pytest.raises(RuntimeError, match="nan"):
        CategoricalHead.sample(torch.full((1, 2, 3), float("nan")))


def _trained_weights(make: object, discrete: bool) -> list[torch.Tensor]:
    """Weights after 25 Adam steps on a fixed loss of every head output, from seeded data."""
    torch.manual_seed(0)
    box = ActionSpec.box([np.full(2, -1.0)] * 2, [np.full(2, 1.0)] * 2)
    spec = ActionSpec.discrete(4) if discrete else box
    net = ActorCritic(2, 5, spec, (16, 16))
    optimizer = make(net.parameters())  # type: ignore[operator]
    gen = torch.Generator().manual_seed(1)
    for _ in range(25):
        obs = torch.randn(2, 32, 5, generator=gen)
        if discrete:
            actions = torch.randint(0, 4, (2, 32), generator=gen)
        else:
            actions = torch.randn(2, 32, 2, generator=gen)
        logp, entropy, values = net.evaluate(obs, actions)
        optimizer.zero_grad(set_to_none=True)
        (logp.square().mean(1) - 0.01 * entropy.mean(1) + values.square().mean(1)).sum().backward()
        optimizer.step()
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("discrete", [False, True])
def test_fused_adam_matches_the_per_tensor_loop_and_repeats_bit_for_bit(discrete: bool) -> None:
    plain = _trained_weights(lambda params: torch.optim.Adam(params, lr=0.01, foreach=False), discrete)
    lean = _trained_weights(lambda params: adam(params, lr=0.01), discrete)
    again = _trained_weights(lambda params: adam(params, lr=0.01), discrete)
    for a, b, c in zip(plain, lean, again, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
        assert torch.equal(b, c)


@pytest.mark.parametrize("counts", [None, [3, 7]])
def test_categorical_scores_over_the_strided_axis_match_the_plain_log_softmax(
    counts: list[int] | None,
) -> None:
    spec = ActionSpec.discrete(7) if counts is None else ActionSpec.discrete_per_agent(counts)
    head = CategoricalHead() if counts is None else MaskedCategoricalHead(spec)
    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(2, 300, 7, generator=gen) * 4.0).requires_grad_()
    actions = torch.randint(0, 3, (2, 300), generator=gen)
    masked = logits if counts is None else head._masked(logits)  # type: ignore[union-attr]
    plain = torch.log_softmax(masked, -1)
    want_logp = plain.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    want_entropy = -torch.where(plain.exp() > 0, plain.exp() * plain, torch.zeros_like(plain)).sum(-1)
    logp, entropy = head.log_prob_and_entropy(logits, actions)
    torch.testing.assert_close(logp, want_logp, rtol=0, atol=2e-6)
    torch.testing.assert_close(entropy, want_entropy, rtol=0, atol=2e-6)
    assert torch.equal(logp, head.log_prob(logits, actions)) and torch.equal(entropy, head.entropy(logits))
    (grad,) = torch.autograd.grad((logp - 0.1 * entropy).sum(), logits)
    (want_grad,) = torch.autograd.grad((want_logp - 0.1 * want_entropy).sum(), logits)
    torch.testing.assert_close(grad, want_grad, rtol=0, atol=2e-6)


@pytest.mark.parametrize("continuous", [False, True])
def test_unscored_policy_draws_the_same_actions(continuous: bool) -> None:
    spec = (
        ActionSpec.box([np.full(3, -1.0)] * 2, [np.full(3, 1.0)] * 2)
        if continuous
        else ActionSpec.discrete(5)
    )
    torch.manual_seed(0)
    net = ActorCritic(2, 4, spec, (8,), obs_norm=True)
    obs = np.random.default_rng(0).normal(size=(6, 2, 4)).astype(np.float32)
    scored = NetworkPolicy(net, torch.Generator().manual_seed(3))
    unscored = NetworkPolicy(net, torch.Generator().manual_seed(3), scores=False)
    for _ in range(3):
        actions, logp, values = scored(obs)
        same, no_logp, no_values = unscored(obs)
        np.testing.assert_array_equal(actions, same)
        assert np.isfinite(logp).all() and np.isfinite(values).all()
        assert no_logp.shape == logp.shape and np.isnan(no_logp).all() and np.isnan(no_values).all()
    assert torch.equal(scored.sampler.get_state(), unscored.sampler.get_state())


def test_nan_policy_names_the_agent_in_both_paths() -> None:
    torch.manual_seed(0)
    net = ActorCritic(3, 4, 5, (8,))
    with torch.no_grad():
        net.policy.output.bias[2].fill_(float("inf"))
    obs = torch.zeros(3, 2, 4)
    for call in (net.act, net.sample):
        with pytest.raises(FloatingPointError, match="policy of agent 2 outputs NaN or inf"):
            call(obs)
    with torch.no_grad():  # finite logits whose sum overflows are not an error
        net.policy.output.bias.fill_(3e38)
    net.act(obs)
