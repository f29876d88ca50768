"""What an agent's action is, as the learner needs to know it: n discrete choices, or a box of reals.

Agents of one environment may control different numbers of action dimensions (a MuJoCo body split into
uneven parts). Every agent's action is then padded to the largest dimension ``dim``; ``mask`` says which
entries are real. The learner samples the padding too but the environment ignores it, and log-probabilities
and entropies sum over the real entries only, so the padding never influences learning.

Discrete agents may likewise have different numbers of choices (``counts``, e.g. a speaker with 3 and a
listener with 5): ``n`` is the largest, and an agent's logits past its own count are masked, so those actions
are never sampled and carry no probability.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class ActionSpec:
    """Discrete (``n`` choices, one integer per agent) or continuous (up to ``dim`` reals per agent)."""

    n: int = 0
    """Number of discrete actions; 0 for continuous actions."""
    low: NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    """(A, dim) lower bounds of continuous actions (padding entries hold -1)."""
    high: NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    """(A, dim) upper bounds (padding entries hold 1)."""
    mask: NDArray[np.bool_] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.bool_))
    """(A, dim) True where the entry is a real action dimension of that agent."""
    counts: tuple[int, ...] = ()
    """Discrete only: each agent's own number of choices (<= n); empty when every agent has all n."""

    @classmethod
    def discrete(cls, n: int) -> ActionSpec:
        if n < 1:
            raise ValueError(f"a discrete action space needs n >= 1 choices, got {n}")
        return cls(n=int(n))

    @classmethod
    def discrete_per_agent(cls, counts: list[int]) -> ActionSpec:
        """Agent i chooses among ``counts[i]`` actions 0..counts[i]-1; equal counts give `discrete`."""
        if not counts or min(counts) < 1:
            raise ValueError(f"a discrete action space needs >= 1 choices per agent, got {counts}")
        n = max(counts)
        if min(counts) == n:
            return cls.discrete(n)
        return cls(n=int(n), counts=tuple(int(k) for k in counts))

    @property
    def valid_actions(self) -> NDArray[np.bool_] | None:
        """(A, n) True where the action exists for that agent; None when every agent has all n."""
        if not self.counts:
            return None
        return np.arange(self.n)[None, :] < np.asarray(self.counts)[:, None]

    @classmethod
    def box(cls, lows: list[NDArray[np.floating]], highs: list[NDArray[np.floating]]) -> ActionSpec:
        """One (low, high) pair of 1-d bound arrays per agent, possibly of different lengths."""
        if len(lows) != len(highs) or not lows:
            raise ValueError("a box action space needs one (low, high) pair per agent")
        dim = max(len(np.ravel(lo)) for lo in lows)
        low = -np.ones((len(lows), dim), dtype=np.float32)
        high = np.ones((len(lows), dim), dtype=np.float32)
        mask = np.zeros((len(lows), dim), dtype=np.bool_)
        for i, (lo, hi) in enumerate(zip(lows, highs, strict=True)):
            lo, hi = np.ravel(lo), np.ravel(hi)
            if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(lo < hi)):
                raise ValueError(f"agent {i} has action bounds low={lo}, high={hi}; need finite low < high")
            low[i, : len(lo)], high[i, : len(hi)], mask[i, : len(lo)] = lo, hi, True
        return cls(n=0, low=low, high=high, mask=mask)

    @property
    def continuous(self) -> bool:
        return self.n == 0

    @property
    def dim(self) -> int:
        """Entries of one agent's action: 1 for discrete actions (one integer), else the padded box size."""
        return 1 if not self.continuous else int(self.mask.shape[1])

    @property
    def action_shape(self) -> tuple[int, ...]:
        """Per-agent shape of an action in a batch: () for discrete, (dim,) for continuous."""
        return () if not self.continuous else (self.dim,)
