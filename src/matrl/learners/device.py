"""Where the learner trains: ``--device auto|cpu|cuda`` resolved once, with a one-line error if unavailable.

Only the gradient passes move to the device. The env copies act through a CPU copy of the policies: per step
they evaluate a few dozen observations, where a GPU round trip costs more than the CPU forward pass.
"""

from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when torch sees a GPU, else cpu; ``cuda`` without one is an error naming the fix."""
    if name not in DEVICES:
        raise ValueError(f"device={name!r} is not allowed; expected one of {', '.join(DEVICES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device='cuda' is not available: torch {torch.__version__} sees no GPU "
            f"(built with CUDA: {torch.version.cuda is not None}); use --device cpu or --device auto"
        )
    return torch.device(name)
