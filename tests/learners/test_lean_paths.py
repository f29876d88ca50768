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


def test_foreach_adam_is_bit_identical_to_the_per_tensor_loop() -> None:
    def trained(make: object) -> list[torch.Tensor]:
        torch.manual_seed(0)
        spec = ActionSpec.box([np.full(2, -1.0)] * 2, [np.full(2, 1.0)] * 2)
        net = ActorCritic(2, 5, spec, (16, 16))
        optimizer = make(net.parameters())  # type: ignore[operator]
        gen = torch.Generator().manual_seed(1)
        for _ in range(25):
            obs, actions = torch.randn(2, 32, 5, generator=gen), torch.randn(2, 32, 2, generator=gen)
            logp, entropy, values = net.evaluate(obs, actions)
            optimizer.zero_grad(set_to_none=True)
            (logp.square().mean(1) - 0.01 * entropy.mean(1) + values.square().mean(1)).sum().backward()
            optimizer.step()
        return [p.detach().clone() for p in net.parameters()]

    plain = trained(lambda params: torch.optim.Adam(params, lr=0.01, foreach=False))
    lean = trained(lambda params: adam(params, lr=0.01))
    assert all(torch.equal(a, b) for a, b in zip(plain, lean, strict=True))


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
