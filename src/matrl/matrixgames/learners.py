"""The baseline learners of the matrix-game study with exact policy gradients: IGA, IGA-PP and WoLF-IGA.

Every learner maps the policies of a batch of games, ``x`` and ``y`` of shape (G,), to the next ones in one
vectorised step; all players update simultaneously from the same iterate. The defaults are the official
code's (IGA lr 0.02, IGA-PP gamma 0.01; the paper gives neither); WoLF's defaults are the paper's Table 2
(lr_max 0.06, lr_min 0.02; the official code uses lr_min 0.01, see
:func:`matrl.matrixgames.study.learners_for`).
MATRL lives in :mod:`matrl.matrixgames.trust_region`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from matrl.matrixgames.batch import FloatArray, GameBatch


class Learner(Protocol):
    """One simultaneous policy update for every game of a batch."""

    @property
    def name(self) -> str:
        """Name in tables and plots."""
        ...

    def step(self, games: GameBatch, x: FloatArray, y: FloatArray, t: int) -> tuple[FloatArray, FloatArray]:
        """Next (x, y) after update number ``t`` (0-based; only randomised learners use it)."""
        ...


def project(v: FloatArray) -> FloatArray:
    """Projection onto the policy interval [0, 1] (the Pi operator of projected gradient ascent)."""
    return np.clip(v, 0.0, 1.0)


@dataclass(frozen=True)
class IGA:
    """Infinitesimal gradient ascent with a finite step (Singh et al., 2000): ``x <- Pi(x + lr dV0/dx)``."""

    lr: float = 0.02
    name: str = "IGA"

    def step(self, games: GameBatch, x: FloatArray, y: FloatArray, t: int) -> tuple[FloatArray, FloatArray]:
        return project(x + self.lr * games.grad0(y)), project(y + self.lr * games.grad1(x))


@dataclass(frozen=True)
class IGAPP:
    """IGA with policy prediction (Zhang & Lesser, 2010): a gradient step against the opponent's predicted
    policy ``y + gamma dV1/dy`` (the prediction is not projected, as in the paper and the official code)."""

    lr: float = 0.02
    gamma: float = 0.01
    name: str = "IGA-PP"

    def step(self, games: GameBatch, x: FloatArray, y: FloatArray, t: int) -> tuple[FloatArray, FloatArray]:
        y_pred = y + self.gamma * games.grad1(x)
        x_pred = x + self.gamma * games.grad0(y)
        return project(x + self.lr * games.grad0(y_pred)), project(y + self.lr * games.grad1(x_pred))


@dataclass(frozen=True)
class WoLF:
    """WoLF-IGA (Bowling & Veloso, 2002): learn slowly (``lr_min``) when winning, fast (``lr_max``) otherwise.

    A player is winning when its current policy earns more against the opponent's current policy than its
    equilibrium policy would; as in the paper, the true equilibrium is given (``GameBatch.wolf_target``, the
    first equilibrium in nashpy's order, as the official code uses).
    """

    lr_min: float = 0.02
    lr_max: float = 0.06
    name: str = "WoLF"

    def step(self, games: GameBatch, x: FloatArray, y: FloatArray, t: int) -> tuple[FloatArray, FloatArray]:
        x_star, y_star = games.wolf_target[:, 0], games.wolf_target[:, 1]
        winning0 = games.value(0, x, y) > games.value(0, x_star, y)
        winning1 = games.value(1, x, y) > games.value(1, x, y_star)
        lr0 = np.where(winning0, self.lr_min, self.lr_max)
        lr1 = np.where(winning1, self.lr_min, self.lr_max)
        return project(x + lr0 * games.grad0(y)), project(y + lr1 * games.grad1(x))
