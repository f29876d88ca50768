"""All equilibria of 2x2 games in closed form, vectorised over a batch of games.

Every 2x2 game has an equilibrium among nine candidates: each player plays action 0, action 1, or the mixture
that makes the *other* player indifferent. (If no pure equilibrium exists, every equilibrium is fully mixed
and both indifference points are well defined; if a player can be indifferent everywhere, a pure equilibrium
exists.) Candidates are verified by regret, so degenerate games (ties, all-zero payoffs, as MATRL's meta-game
is when predicted == current) still get verified equilibria; continua are represented by their end points.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from matrl.gametheory.games import as_game, is_equilibrium

#: Candidate order: the four pure profiles (p = P(action 0) of each player), then the five with mixing.
NUM_CANDIDATES = 9


def _indifference_point(other: NDArray[np.float64], player_axis_first: bool) -> NDArray[np.float64]:
    """Probability of action 0 for one player that makes the other player indifferent (NaN if none in [0,1]).

    ``other`` is the other player's payoff matrix indexed [a0, a1]. For player 0's mixture, the other is
    player 1, whose indifference reads p*(B00 - B01) + (1-p)*(B10 - B11) = 0.
    """
    if player_axis_first:  # mixing player indexes rows, indifferent player's actions are columns
        d_top = other[..., 0, 0] - other[..., 0, 1]
        d_bottom = other[..., 1, 0] - other[..., 1, 1]
    else:  # mixing player indexes columns, indifferent player's actions are rows
        d_top = other[..., 0, 0] - other[..., 1, 0]
        d_bottom = other[..., 0, 1] - other[..., 1, 1]
    denom = d_top - d_bottom
    with np.errstate(divide="ignore", invalid="ignore"):
        point = np.where(denom != 0.0, -d_bottom / np.where(denom != 0.0, denom, 1.0), np.nan)
    return np.where((point > 0.0) & (point < 1.0), point, np.nan)


def candidates_2x2(payoffs: ArrayLike) -> NDArray[np.float64]:
    """The nine candidate profiles of each game, shape ``(..., 9, 2)``; NaN marks an impossible mixture."""
    game = as_game(payoffs, n=2)
    p_mix = _indifference_point(game[..., 1, :, :], player_axis_first=True)
    q_mix = _indifference_point(game[..., 0, :, :], player_axis_first=False)
    ones = np.ones_like(p_mix)
    zeros = np.zeros_like(p_mix)
    pairs = [
        (ones, ones),
        (ones, zeros),
        (zeros, ones),
        (zeros, zeros),
        (p_mix, q_mix),
        (p_mix, ones),
        (p_mix, zeros),
        (ones, q_mix),
        (zeros, q_mix),
    ]
    return np.stack([np.stack(pair, axis=-1) for pair in pairs], axis=-2)


def equilibria_2x2_batch(
    payoffs: ArrayLike, rtol: float = 1e-9
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Candidates and which of them are verified equilibria, for a batch of 2x2 games.

    Args:
        payoffs: shape ``(..., 2, 2, 2)``, ``payoffs[..., i, a0, a1]``.
        rtol: regret tolerance relative to each game's largest absolute payoff.

    Returns:
        ``(profiles, valid)`` with shapes ``(..., 9, 2)`` and ``(..., 9)``. Every game has at least one valid
        candidate. Mixed candidates that are impossible are NaN and never valid.
    """
    game = as_game(payoffs, n=2)
    profiles = candidates_2x2(game)
    finite = np.all(np.isfinite(profiles), axis=-1)
    safe = np.where(finite[..., None], profiles, 0.5)
    valid = finite & is_equilibrium(game[..., None, :, :, :], safe, rtol=rtol)
    return profiles, np.asarray(valid)


def _mixture(top: float, bottom: float) -> float | None:
    """Scalar `_indifference_point`: the root of ``p*top + (1-p)*bottom`` if it lies in (0, 1)."""
    denom = top - bottom
    if denom == 0.0:
        return None
    point = -bottom / denom
    return point if 0.0 < point < 1.0 else None


def _regrets(g: list[float], p: float, q: float) -> tuple[float, float]:
    """Both players' regrets at ``(p, q)`` for a flat game ``g = payoffs.ravel()`` (`games.regrets`)."""
    a00, a01, a10, a11, b00, b01, b10, b11 = g
    v0 = q * a00 + (1.0 - q) * a01
    v1 = q * a10 + (1.0 - q) * a11
    w0 = p * b00 + (1.0 - p) * b10
    w1 = p * b01 + (1.0 - p) * b11
    r0 = max(v0, v1) - (p * v0 + (1.0 - p) * v1)
    r1 = max(w0, w1) - (q * w0 + (1.0 - q) * w1)
    return max(r0, 0.0), max(r1, 0.0)


def equilibria_2x2_scalar(g: list[float], rtol: float = 1e-9) -> list[tuple[float, float, float, float]]:
    """Verified candidates of one 2x2 game given as 8 Python floats, as ``(p, q, regret_0, regret_1)``.

    Same candidates, order, verification and de-duplication as `equilibria_2x2_batch`, in plain floats: one
    game is solved in a few microseconds instead of the ~100 us that numpy's per-call overhead costs.
    """
    a00, a01, a10, a11, b00, b01, b10, b11 = g
    tol = rtol * max(abs(x) for x in g)
    p_mix = _mixture(b00 - b01, b10 - b11)
    q_mix = _mixture(a00 - a10, a01 - a11)
    pairs: list[tuple[float | None, float | None]] = [
        (1.0, 1.0),
        (1.0, 0.0),
        (0.0, 1.0),
        (0.0, 0.0),
        (p_mix, q_mix),
        (p_mix, 1.0),
        (p_mix, 0.0),
        (1.0, q_mix),
        (0.0, q_mix),
    ]
    found: list[tuple[float, float, float, float]] = []
    for p, q in pairs:
        if p is None or q is None:
            continue
        r0, r1 = _regrets(g, p, q)
        if (
            r0 <= tol
            and r1 <= tol
            and not any(abs(p - s[0]) <= 1e-12 and abs(q - s[1]) <= 1e-12 for s in found)
        ):
            found.append((p, q, r0, r1))
    return found


def equilibria_2x2(payoffs: ArrayLike, rtol: float = 1e-9) -> list[NDArray[np.float64]]:
    """All (representative) equilibria of one 2x2 game, pure ones first, duplicates removed."""
    game = as_game(payoffs, n=2)
    if game.shape != (2, 2, 2):
        raise ValueError(f"expected one 2x2 game of shape (2, 2, 2), got {game.shape}")
    return [np.array(found[:2]) for found in equilibria_2x2_scalar(game.ravel().tolist(), rtol)]
