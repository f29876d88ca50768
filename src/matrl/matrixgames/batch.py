"""A batch of 2x2 games with exact values and policy gradients, so thousands of games step together.

Policies are scalars: ``x`` = P(player 0 plays action 0) and ``y`` = P(player 1 plays action 0), arrays of
shape (G,). Values and gradients are written with the original code's operations in the original's order
(``V = x*y*u + x*(P01 - P11) + y*(P10 - P11) + P11``), so the `original` variant reproduces its floating
point results bit for bit; the `paper` variant uses the same (exact) formulas.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from matrl.gametheory import equilibria_2x2_batch

FloatArray = NDArray[np.float64]

#: Candidate indices (in the order of `equilibria_2x2_batch`) that nashpy's support enumeration can yield for
#: a 2x2 game, in the order it yields them: the four pure profiles (row-major), then the fully mixed one.
#: Partially mixed candidates are never yielded (their indifference system is not square).
NASHPY_ORDER: tuple[int, ...] = (0, 1, 2, 3, 4)


def clip_like_python(v: FloatArray) -> FloatArray:
    """``max(0.0, min(1.0, v))`` elementwise, as the original code does it: NaN becomes 1.0."""
    return np.where(np.isnan(v), 1.0, np.minimum(np.maximum(v, 0.0), 1.0))


def nashpy_equilibria(
    payoffs: ArrayLike,
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """The equilibria nashpy's ``support_enumeration`` would list, as candidates of `equilibria_2x2_batch`.

    nashpy accepts a pure profile when each player's payoff there equals (exactly, ``==``) the best pure
    payoff, i.e. weak equilibria with exact ties; with ``rtol=0`` the regret test of `equilibria_2x2_batch`
    is that same exact comparison for pure profiles (their expected payoffs are computed without rounding).
    The fully mixed candidate is an equilibrium whenever it exists (both players indifferent), so its
    validity is its existence. Returns ``(profiles (..., 9, 2), valid (..., 9))`` with partial mixtures
    marked invalid.
    """
    profiles, exact_valid = equilibria_2x2_batch(payoffs, rtol=0.0)
    valid = np.zeros_like(exact_valid)
    valid[..., :4] = exact_valid[..., :4]
    valid[..., 4] = np.all(np.isfinite(profiles[..., 4, :]), axis=-1)
    return profiles, valid


@dataclass(frozen=True)
class GameBatch:
    """G two-player two-action games and what the learners need about them.

    Attributes:
        payoffs: (G, 2, 2, 2), ``payoffs[g, i, a0, a1]``.
        keys: (G,) uint64, a per-game key for the seeded random choices (meta-game equilibrium selection),
            so a game's run does not depend on which other games share its batch.
        targets: (G, 9, 2) the true game's equilibria that count for convergence, NaN where none.
        wolf_target: (G, 2) the equilibrium WoLF is given: the first one in nashpy's order.
    """

    payoffs: FloatArray
    keys: NDArray[np.uint64]
    targets: FloatArray
    wolf_target: FloatArray
    u0: FloatArray
    u1: FloatArray

    @classmethod
    def from_payoffs(cls, payoffs: ArrayLike, keys: ArrayLike | None = None, *, nashpy_like: bool) -> Self:
        """Build a batch; ``nashpy_like`` picks the original's equilibrium list (exact ties) for targets.

        With ``nashpy_like=False`` every verified equilibrium of `equilibria_2x2_batch` counts (the paper's
        "some NE of the true game"); for the generated games both lists are the same.
        """
        game = np.asarray(payoffs, dtype=np.float64)
        if game.ndim != 4 or game.shape[1:] != (2, 2, 2):
            raise ValueError(f"expected payoffs of shape (G, 2, 2, 2), got {game.shape}")
        if keys is None:
            keys = np.arange(game.shape[0], dtype=np.uint64)
        key_arr = np.asarray(keys, dtype=np.uint64).reshape(-1)
        if key_arr.shape[0] != game.shape[0]:
            raise ValueError("one key per game is needed")
        if nashpy_like:
            profiles, valid = nashpy_equilibria(game)
        else:
            profiles, valid = equilibria_2x2_batch(game)
        targets = np.where(valid[..., None], profiles, np.nan)
        _, listed = nashpy_equilibria(game)
        order = np.asarray(NASHPY_ORDER)
        first = order[np.argmax(listed[:, order], axis=1)]
        wolf_target = profiles[np.arange(game.shape[0]), first]
        p0, p1 = game[:, 0], game[:, 1]
        u0 = p0[:, 0, 0] - p0[:, 0, 1] - p0[:, 1, 0] + p0[:, 1, 1]
        u1 = p1[:, 0, 0] - p1[:, 0, 1] - p1[:, 1, 0] + p1[:, 1, 1]
        return cls(game, key_arr, targets, wolf_target, u0, u1)

    def __len__(self) -> int:
        return int(self.payoffs.shape[0])

    def take(self, index: NDArray[np.intp]) -> Self:
        """The sub-batch of the given games (used to stop computing games that have converged)."""
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def entry(self, player: int, a0: int, a1: int) -> FloatArray:
        """``P_player[a0][a1]`` for every game."""
        return self.payoffs[:, player, a0, a1]

    def value(self, player: int, x: FloatArray, y: FloatArray) -> FloatArray:
        """Exact expected payoff ``V(x, y; P_player)`` (bilinear in the two policies)."""
        u = self.u0 if player == 0 else self.u1
        p01, p10, p11 = self.entry(player, 0, 1), self.entry(player, 1, 0), self.entry(player, 1, 1)
        return x * y * u + x * (p01 - p11) + y * (p10 - p11) + p11

    def grad0(self, y: FloatArray) -> FloatArray:
        """dV0/dx at any x (V0 is linear in x): ``y*u0 + P0[0,1] - P0[1,1]``."""
        return y * self.u0 + self.entry(0, 0, 1) - self.entry(0, 1, 1)

    def grad1(self, x: FloatArray) -> FloatArray:
        """dV1/dy at any y (V1 is linear in y): ``x*u1 + P1[1,0] - P1[1,1]``."""
        return x * self.u1 + self.entry(1, 1, 0) - self.entry(1, 1, 1)

    def converged(self, x: FloatArray, y: FloatArray, tolerance: float, squared: bool) -> NDArray[np.bool_]:
        """Whether (x, y) is within ``tolerance`` of some target equilibrium in both coordinates.

        ``squared=True`` tests ``(x - x*)**2 < tolerance**2`` as the original does (its constant 2.5e-3
        differs from 0.05**2 in the last bit).
        """
        dx = x[:, None] - self.targets[..., 0]
        dy = y[:, None] - self.targets[..., 1]
        with np.errstate(invalid="ignore"):
            if squared:
                limit = 2.5e-3 if tolerance == 0.05 else tolerance**2
                close = (dx * dx < limit) & (dy * dy < limit)
            else:
                close = (np.abs(dx) < tolerance) & (np.abs(dy) < tolerance)
        return np.asarray(np.any(close, axis=1))
