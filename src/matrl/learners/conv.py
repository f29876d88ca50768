"""Per-agent convolutional networks for image observations (two-player Pong), one per agent, no sharing.

Appendix E of the paper: "a convolution network, which has filter sizes [8,4,3], kernel sizes (3,3,3), and
stride sizes [4,2,1] and VALID padding", then "a 2 layer fully connected network". :class:`ConvTorso`
holds the conv part; the fully connected part is the config's ``hidden`` widths plus the output layer. Two
readings of that sentence are at hand (docs/pong.md):

- ``NATURE``: the DQN torso of Mnih et al. (2015), 32/64/64 filters of 8x8/4x4/3x3 with strides 4/2/1 (the
  same strides and layer count; "filter sizes [8,4,3]" read as kernel sizes). The default.
- ``PAPER``: the sentence taken literally, 8/4/3 filters of 3x3 with strides 4/2/1, which is also what the
  original code built (there without activations between the convs: ``activation="none"``).

Like :class:`matrl.learners.networks.BatchedMLP`, every parameter carries a leading agent axis (A, ...), so
the mixture of weights, per-agent gradient clipping and early stopping treat these networks like the MLPs.
The convs run as one ``conv2d`` per agent: on a CPU that is faster than a single grouped convolution over
the agents (measured with one thread: 1.2-1.7x for both torsos, forward and backward, whose input then
needs an (A, B) -> (B, A) transpose as well).

Inputs are raw pixel values, flat (A, B, C*H*W) in any dtype (uint8 from the env); each agent's block is
reshaped to (B, C, H, W) and cast to float32 on the fly, so a batch is held as uint8 and converted one piece
at a time; the first conv layer divides its weights by 255, the same as feeding pixels in [0, 1] (as the
original code did) without another pass over the images. Without autograd (acting, advantages, statistics)
the batch is processed in chunks of :attr:`BatchedCNN.eval_chunk` samples to bound the float32 temporaries.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from matrl.learners.networks import LEAKY_SLOPE, BatchedLinear

Activation = Literal["leaky_relu", "relu", "none"]
ACTIVATIONS: tuple[str, ...] = ("leaky_relu", "relu", "none")
#: Pixel values are divided by this (the original code fed frame / 255 in [0, 1]).
PIXEL_SCALE = 255.0


@dataclass(frozen=True)
class ConvTorso:
    """The conv layers: filters (output channels), square kernel sizes and strides, VALID padding."""

    channels: tuple[int, ...] = (32, 64, 64)
    kernels: tuple[int, ...] = (8, 4, 3)
    strides: tuple[int, ...] = (4, 2, 1)
    activation: Activation = "leaky_relu"
    """After every conv layer; ``none`` makes the conv stack linear, as in the original code."""

    def check(self) -> None:
        """One ValueError line for inconsistent layers."""
        if not len(self.channels) == len(self.kernels) == len(self.strides) >= 1:
            raise ValueError(
                f"cnn channels {self.channels}, kernels {self.kernels} and strides {self.strides} must be "
                "non-empty and of equal length"
            )
        for name in ("channels", "kernels", "strides"):
            values = getattr(self, name)
            if any(int(v) < 1 for v in values):
                raise ValueError(f"cnn {name}={values} is not allowed; expected values >= 1")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"cnn activation={self.activation!r} is not allowed; expected one of {ACTIVATIONS}"
            )

    def output_shape(self, obs_shape: Sequence[int]) -> tuple[int, int, int]:
        """(channels, height, width) after the conv layers for (C, H, W) inputs; ValueError if too small."""
        self.check()
        if len(obs_shape) != 3:
            raise ValueError(f"a CNN needs (C, H, W) observations, got shape {tuple(obs_shape)}")
        _, h, w = (int(n) for n in obs_shape)
        for k, s in zip(self.kernels, self.strides, strict=True):
            if h < k or w < k:
                raise ValueError(
                    f"observations of shape {tuple(obs_shape)} are too small for the cnn kernels "
                    f"{self.kernels} with strides {self.strides}"
                )
            h, w = (h - k) // s + 1, (w - k) // s + 1
        return int(self.channels[-1]), h, w


#: The DQN torso (Mnih et al. 2015); the default reading of appendix E.
NATURE = ConvTorso((32, 64, 64), (8, 4, 3), (4, 2, 1))
#: Appendix E read literally, as the original code built it (with activations; the original had none).
PAPER = ConvTorso((8, 4, 3), (3, 3, 3), (4, 2, 1))


def _activate(x: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "leaky_relu":
        return F.leaky_relu(x, LEAKY_SLOPE)
    if activation == "relu":
        return F.relu(x)
    return x


def _gain(activation: str) -> float:
    """Orthogonal-init gain that keeps activations' scale through the layer."""
    if activation == "leaky_relu":
        return math.sqrt(2.0 / (1.0 + LEAKY_SLOPE**2))
    if activation == "relu":
        return math.sqrt(2.0)
    return 1.0


class BatchedConv2d(nn.Module):
    """A independent conv layers (VALID padding): weight (A, out, in, k, k), bias (A, out).

    ``input_divisor`` d makes the layer compute conv(x / d) as conv(x) with the weights divided by d: the same
    function and gradients (up to rounding) without a pass over the (large) input to scale it.
    """

    def __init__(
        self,
        num_agents: int,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int,
        gain: float,
        input_divisor: float = 1.0,
    ) -> None:
        super().__init__()
        self.stride = int(stride)
        self.input_divisor = float(input_divisor)
        self.weight = nn.Parameter(torch.empty(num_agents, out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(num_agents, out_channels))
        with torch.no_grad():
            for agent_weight in self.weight:
                nn.init.orthogonal_(agent_weight, gain=gain)

    def forward(self, x: torch.Tensor, agent: int) -> torch.Tensor:
        """Agent ``agent``'s layer on its images ``x`` (B, in, H, W)."""
        weight = self.weight[agent]
        if self.input_divisor != 1.0:
            weight = weight / self.input_divisor
        return F.conv2d(x, weight, self.bias[agent], stride=self.stride)


class BatchedCNN(nn.Module):
    """One CNN per agent (convs, then fully connected layers with leaky ReLU, linear output).

    ``forward`` maps flat pixel observations (A, B, C*H*W) of any dtype to (A, B, out) float32.
    """

    #: Samples per forward pass when autograd is off (the results do not depend on it beyond rounding).
    eval_chunk: int = 1024

    def __init__(
        self,
        num_agents: int,
        obs_shape: Sequence[int],
        out_features: int,
        hidden: Sequence[int] = (128,),
        torso: ConvTorso = NATURE,
        output_gain: float = 1.0,
    ) -> None:
        super().__init__()
        channels, h, w = torso.output_shape(obs_shape)
        self.num_agents = num_agents
        self.obs_shape: tuple[int, int, int] = (int(obs_shape[0]), int(obs_shape[1]), int(obs_shape[2]))
        self.obs_dim = math.prod(self.obs_shape)
        self.activation: str = torso.activation
        gain = _gain(torso.activation)
        inputs = [self.obs_shape[0], *torso.channels[:-1]]
        layers = zip(inputs, torso.channels, torso.kernels, torso.strides, strict=True)
        self.convs = nn.ModuleList(
            BatchedConv2d(num_agents, *layer, gain, input_divisor=PIXEL_SCALE if i == 0 else 1.0)
            for i, layer in enumerate(layers)
        )
        #: Features per agent after the conv layers (flattened C x H x W).
        self.features = channels * h * w
        sizes = [self.features, *hidden]
        hidden_gain = _gain("leaky_relu")
        self.hidden = nn.ModuleList(
            BatchedLinear(num_agents, fan_in, fan_out, gain=hidden_gain)
            for fan_in, fan_out in itertools.pairwise(sizes)
        )
        self.output = BatchedLinear(num_agents, sizes[-1], out_features, gain=output_gain)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """``obs`` (A, B, C*H*W) raw pixel values -> (A, B, out)."""
        if obs.dim() != 3 or obs.shape[0] != self.num_agents or obs.shape[2] != self.obs_dim:
            raise ValueError(
                f"expected input of shape ({self.num_agents}, batch, {self.obs_dim}) (flattened "
                f"{self.obs_shape} images), got {tuple(obs.shape)}"
            )
        size = obs.shape[1]
        if torch.is_grad_enabled() or size <= self.eval_chunk:
            return self._forward(obs)
        parts = [self._forward(obs[:, i : i + self.eval_chunk]) for i in range(0, size, self.eval_chunk)]
        return torch.cat(parts, dim=1)

    def torso_features(self, obs: torch.Tensor) -> torch.Tensor:
        """The conv features (A, B, features) of flat pixel observations (A, B, C*H*W)."""
        size = obs.shape[1]
        feats = []
        for agent in range(self.num_agents):
            # Pixels 0..255 as float32, one agent (and, without autograd, one chunk) at a time; the first
            # layer divides its weights by 255, which equals scaling the input to [0, 1].
            x = obs[agent].reshape(size, *self.obs_shape).to(torch.float32)
            for conv in self.convs:
                x = _activate(conv(x, agent), self.activation)
            feats.append(x.reshape(size, -1))
        return torch.stack(feats)

    def _forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.torso_features(obs)
        for layer in self.hidden:
            x = F.leaky_relu(layer(x), LEAKY_SLOPE)
        out: torch.Tensor = self.output(x)
        return out
