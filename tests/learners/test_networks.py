"""Per-agent networks: one batched call must equal A separate networks, with no coupling between agents."""

from __future__ import annotations

import torch

from matrl.learners.distributions import CategoricalHead, mixture_log_prob
from matrl.learners.networks import LEAKY_SLOPE, BatchedMLP


def _manual_forward(net: BatchedMLP, agent: int, x: torch.Tensor) -> torch.Tensor:
    for layer in net.hidden:
        x = torch.nn.functional.leaky_relu(x @ layer.weight[agent] + layer.bias[agent], LEAKY_SLOPE)
    return x @ net.output.weight[agent] + net.output.bias[agent]


def test_batched_forward_equals_separate_networks() -> None:
    torch.manual_seed(0)
    net = BatchedMLP(num_agents=3, in_features=5, out_features=4, hidden=(8, 8))
    x = torch.randn(3, 7, 5)
    out = net(x)
    assert out.shape == (3, 7, 4)
    for agent in range(3):
        torch.testing.assert_close(out[agent], _manual_forward(net, agent, x[agent]))


def test_agents_do_not_share_parameters_or_gradients() -> None:
    torch.manual_seed(0)
    net = BatchedMLP(num_agents=2, in_features=3, out_features=2, hidden=(4,))
    x = torch.randn(2, 6, 3)
    net(x)[0].sum().backward()  # a loss of agent 0 only
    for param in net.parameters():
        assert param.grad is not None
        assert torch.count_nonzero(param.grad[1]) == 0
        assert torch.count_nonzero(param.grad[0]) > 0
    # Agent 1's input does not change agent 0's output.
    x2 = x.clone()
    x2[1] += 10.0
    torch.testing.assert_close(net(x)[0], net(x2)[0])


def test_agents_start_with_different_weights() -> None:
    torch.manual_seed(0)
    net = BatchedMLP(num_agents=2, in_features=3, out_features=2)
    assert not torch.equal(net.hidden[0].weight[0], net.hidden[0].weight[1])


def test_categorical_head_log_prob_entropy_and_seeded_sampling() -> None:
    logits = torch.log(torch.tensor([[[0.2, 0.8], [0.5, 0.5]]]))
    actions = torch.tensor([[1, 0]])
    torch.testing.assert_close(
        CategoricalHead.log_prob(logits, actions), torch.log(torch.tensor([[0.8, 0.5]]))
    )
    torch.testing.assert_close(CategoricalHead.entropy(logits)[0, 1], torch.log(torch.tensor(2.0)))
    draws = [
        CategoricalHead.sample(logits[:, :1].expand(1, 1000, 2), torch.Generator().manual_seed(3))
        for _ in range(2)
    ]
    assert torch.equal(draws[0], draws[1])
    assert 0.7 < draws[0].float().mean() < 0.9  # P(action 1) = 0.8 in the first row


def test_mixture_log_prob_is_the_weighted_sum_of_probabilities() -> None:
    logp_current = torch.log(torch.tensor([[0.2, 0.9], [0.5, 0.1]]))
    logp_predicted = torch.log(torch.tensor([[0.6, 0.3], [0.5, 0.7]]))
    rho = torch.tensor([0.25, 1.0])
    mixed = mixture_log_prob(logp_current, logp_predicted, rho).exp()
    expected = torch.tensor([[0.25 * 0.2 + 0.75 * 0.6, 0.25 * 0.9 + 0.75 * 0.3], [0.5, 0.1]])
    torch.testing.assert_close(mixed, expected)
    only_predicted = mixture_log_prob(logp_current, logp_predicted, torch.zeros(2))
    torch.testing.assert_close(only_predicted, logp_predicted)
