"""Per-agent CNNs for image observations, and gradients summed over chunks of a minibatch."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.nn import functional as F

from matrl.algorithm import build_actor_critic
from matrl.config import CNNConfig, TrainConfig
from matrl.envs.spec import ActionSpec
from matrl.learners.actor_critic import ActorCritic
from matrl.learners.conv import NATURE, PAPER, BatchedCNN, ConvTorso
from matrl.learners.networks import LEAKY_SLOPE, BatchedMLP
from matrl.learners.update import LossWeights, Samples, ppo_update

TINY = ConvTorso((4, 3), (8, 4), (4, 2))
SHAPE = (3, 84, 84)
DIM = 3 * 84 * 84


def pixels(agents: int, batch: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (agents, batch, DIM), dtype=torch.uint8, generator=g)


def test_shapes_dtypes_and_the_two_readings_of_appendix_e() -> None:
    torch.manual_seed(0)
    net = BatchedCNN(2, SHAPE, 6, (16,), TINY)
    x = pixels(2, 5)
    y = net(x)
    assert y.shape == (2, 5, 6) and y.dtype == torch.float32
    # uint8 in, float compute: the same pixel values as float32 give the same outputs.
    assert torch.equal(net(x.float()), y)
    # Every parameter has a leading agent axis (mixture, clipping and early stopping rely on it).
    assert all(p.shape[0] == 2 for p in net.parameters())
    # DQN torso: 84 -> 20 -> 9 -> 7 with 64 filters; the paper literally: 84 -> 21 -> 10 -> 8 with 3 filters.
    assert NATURE.output_shape(SHAPE) == (64, 7, 7) and PAPER.output_shape(SHAPE) == (3, 8, 8)
    assert BatchedCNN(1, (4, 84, 84), 6, (128,), NATURE).features == 3136
    assert BatchedCNN(1, SHAPE, 6, (128,), PAPER).features == 192


def test_forward_equals_convs_on_pixels_scaled_to_unit_range() -> None:
    """Known answer: conv layers on x / 255 with leaky ReLU, flatten, the MLP, per agent."""
    torch.manual_seed(1)
    net = BatchedCNN(2, SHAPE, 4, (8,), TINY)
    x = pixels(2, 3, seed=1)
    with torch.no_grad():
        got = net(x)
        for a in range(2):
            h = x[a].reshape(3, *SHAPE).float() / 255.0
            for conv in net.convs:
                h = F.leaky_relu(F.conv2d(h, conv.weight[a], conv.bias[a], stride=conv.stride), LEAKY_SLOPE)
            h = h.flatten(1)
            for layer in net.hidden:
                h = F.leaky_relu(h @ layer.weight[a] + layer.bias[a], LEAKY_SLOPE)
            want = h @ net.output.weight[a] + net.output.bias[a]
            torch.testing.assert_close(got[a], want, rtol=1e-5, atol=1e-6)
    linear = BatchedCNN(1, SHAPE, 4, (8,), dataclasses.replace(TINY, activation="none"))
    with torch.no_grad():  # linear convs (the original code): doubling the images doubles the conv features
        f1 = linear.torso_features(x[:1].float() / 2)
        f2 = linear.torso_features(x[:1].float())
        bias_only = linear.torso_features(torch.zeros(1, 3, DIM))
        torch.testing.assert_close(2 * (f1 - bias_only), f2 - bias_only, rtol=1e-4, atol=1e-4)


def test_agents_share_nothing() -> None:
    torch.manual_seed(2)
    net = BatchedCNN(2, SHAPE, 6, (16,), TINY)
    x = pixels(2, 4, seed=2)
    before = net(x).detach()
    with torch.no_grad():
        for p in net.parameters():
            p[1].add_(torch.randn_like(p[1]))
    after = net(x).detach()
    assert torch.equal(after[0], before[0]) and not torch.equal(after[1], before[1])
    # Agent 0's outputs see only agent 0's images, and its gradient reaches only its own weights.
    y = pixels(2, 4, seed=3)
    y[0] = x[0]
    assert torch.equal(net(y)[0], after[0])
    net.zero_grad()
    net(x)[0].sum().backward()
    for p in net.parameters():
        assert p.grad is not None and p.grad[1].abs().max() == 0 and p.grad[0].abs().max() > 0


def test_evaluation_in_chunks_matches_one_pass() -> None:
    torch.manual_seed(3)
    net = BatchedCNN(2, SHAPE, 6, (16,), TINY)
    x = pixels(2, 7, seed=4)
    whole = net(x).detach()  # autograd on: one pass
    net.eval_chunk = 3
    with torch.no_grad():
        chunked = net(x)
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-6)


def test_bad_networks_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="too small for the cnn kernels"):
        BatchedCNN(1, (3, 10, 10), 2, (8,), NATURE)
    with pytest.raises(ValueError, match="must be non-empty and of equal length"):
        ConvTorso((4, 4), (8,), (4, 2)).check()
    with pytest.raises(ValueError, match=r"expected input of shape \(2, batch, 21168\)"):
        BatchedCNN(2, SHAPE, 2, (8,), TINY)(torch.zeros(2, 3, 100))
    with pytest.raises(ValueError, match="obs_norm is not allowed with a CNN"):
        ActorCritic(2, DIM, 6, (8,), obs_norm=True, obs_shape=SHAPE, torso=TINY)
    with pytest.raises(ValueError, match=r"cnn\.channels=\(4,\) is not allowed"):
        TrainConfig(cnn=CNNConfig(channels=(4,))).validate()
    with pytest.raises(ValueError, match=r"cnn\.activation='tanh' is not allowed"):
        TrainConfig(cnn=CNNConfig(activation="tanh")).validate()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="network='cnn' needs image observations"):
        build_actor_critic(TrainConfig(network="cnn"), 2, 10, ActionSpec.discrete(5))


def test_network_auto_picks_a_cnn_for_images_only() -> None:
    config = TrainConfig(hidden=(8,), cnn=CNNConfig(channels=(4, 3), kernels=(8, 4), strides=(4, 2)))
    image = build_actor_critic(config, 2, DIM, ActionSpec.discrete(6), obs_shape=SHAPE)
    flat = build_actor_critic(config, 2, 10, ActionSpec.discrete(6))
    assert isinstance(image.policy, BatchedCNN) and isinstance(image.value, BatchedCNN)
    assert image.policy is not image.value  # policy and value keep their own conv layers
    assert isinstance(flat.policy, BatchedMLP)
    mlp = dataclasses.replace(config, network="mlp")
    forced = build_actor_critic(mlp, 2, DIM, ActionSpec.discrete(6), SHAPE)
    assert isinstance(forced.policy, BatchedMLP)
    round_trip = TrainConfig.from_dict(config.to_dict())
    assert round_trip == config and round_trip.cnn.channels == (4, 3)


@pytest.mark.parametrize(("minibatches", "target_kl"), [(1, None), (2, 0.002)])
def test_gradients_summed_over_chunks_give_the_same_update(minibatches: int, target_kl: float | None) -> None:
    def run(grad_chunk: int | None) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        torch.manual_seed(4)
        net = ActorCritic(2, 6, 3, (16,))
        g = torch.Generator().manual_seed(5)
        size = 40
        obs = torch.randn(2, size, 6, generator=g)
        with torch.no_grad():
            actions, logp, values = net.act(obs, g)
        samples = Samples(
            obs=obs,
            actions=actions,
            logp=logp,
            values=values,
            advantages=torch.randn(2, size, generator=g),
            returns=torch.randn(2, size, generator=g),
        )
        optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
        weights = LossWeights(0.1, 0.5, 0.01, 0.01, 0.1, 2.0)
        stats = ppo_update(
            net,
            optimizer,
            samples,
            weights,
            epochs=3,
            minibatches=minibatches,
            sample_weights=torch.rand(2, size, generator=g) + 0.5,
            target_kl=target_kl,
            max_grad_norm=0.5,
            generator=torch.Generator().manual_seed(6),
            grad_chunk=grad_chunk,
        )
        return {k: v.detach().clone() for k, v in net.state_dict().items()}, stats.policy_loss, stats.steps

    whole, loss_whole, steps_whole = run(None)
    # 40 / minibatches samples in pieces of 7 (a short last one).
    chunked, loss_chunked, steps_chunked = run(7)
    for key in whole:
        torch.testing.assert_close(chunked[key], whole[key], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(loss_chunked, loss_whole, rtol=1e-4, atol=1e-6)
    assert torch.equal(steps_chunked, steps_whole)
    if target_kl is not None:  # the early stop happened, at the same step, in both
        assert steps_whole.min() < 3 * minibatches
