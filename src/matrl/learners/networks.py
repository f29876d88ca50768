"""Per-agent networks, evaluated for all agents in one batched call.

Agents never share parameters: each weight tensor carries a leading agent axis (A, in, out), and a forward
pass is one ``baddbmm`` per layer for every agent at once. With small MLPs on a CPU this removes the Python
overhead of A separate modules, which dominates at these sizes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

#: TensorFlow's default leaky-ReLU slope, which the original MATRL networks used.
LEAKY_SLOPE = 0.2

Init = Literal["orthogonal", "glorot"]


class BatchedLinear(nn.Module):
    """A independent affine maps y_a = x_a W_a + b_a, applied with one batched matmul."""

    def __init__(
        self,
        num_agents: int,
        in_features: int,
        out_features: int,
        gain: float = 1.0,
        init: Init = "orthogonal",
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_agents, in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(num_agents, 1, out_features))
        with torch.no_grad():
            for agent_weight in self.weight:
                if init == "orthogonal":
                    nn.init.orthogonal_(agent_weight, gain=gain)
                else:
                    bound = gain * math.sqrt(6.0 / (in_features + out_features))
                    nn.init.uniform_(agent_weight, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (A, B, in) -> (A, B, out)."""
        return torch.baddbmm(self.bias, x, self.weight)


class BatchedMLP(nn.Module):
    """One MLP per agent (hidden layers with leaky ReLU, linear output), all agents evaluated together.

    The output layer has no activation (the original code applied leaky ReLU to logits and values too, which
    caps negative logits and values; we do not copy that).
    """

    def __init__(
        self,
        num_agents: int,
        in_features: int,
        out_features: int,
        hidden: Sequence[int] = (128, 128),
        output_gain: float = 1.0,
        init: Init = "orthogonal",
    ) -> None:
        super().__init__()
        sizes = [in_features, *hidden]
        hidden_gain = math.sqrt(2.0 / (1.0 + LEAKY_SLOPE**2))
        self.hidden = nn.ModuleList(
            BatchedLinear(num_agents, fan_in, fan_out, gain=hidden_gain, init=init)
            for fan_in, fan_out in itertools.pairwise(sizes)
        )
        self.output: BatchedLinear = BatchedLinear(
            num_agents, sizes[-1], out_features, gain=output_gain, init=init
        )
        self.num_agents = num_agents

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (A, B, in) -> (A, B, out)."""
        if x.dim() != 3 or x.shape[0] != self.num_agents:
            raise ValueError(
                f"expected input of shape ({self.num_agents}, batch, features), got {tuple(x.shape)}"
            )
        # The layers' own ``baddbmm`` without nn.Module's call machinery (hooks are never used here): the
        # same ops, a few microseconds less per layer, which counts at one forward pass per env step.
        for layer in self.hidden:
            assert isinstance(layer, BatchedLinear)
            x = nn.functional.leaky_relu(torch.baddbmm(layer.bias, x, layer.weight), LEAKY_SLOPE)
        out = self.output
        return torch.baddbmm(out.bias, x, out.weight)
