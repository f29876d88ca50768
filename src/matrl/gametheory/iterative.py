"""Learning dynamics as fallback solvers: replicator dynamics and fictitious play.

Neither converges on every game (replicator dynamics cycle around the mixed equilibrium of matching pennies,
fictitious play cycles in Shapley's game), which is why they are fallbacks, not the default. Both run from
several seeded starting profiles at once (vectorised), keep the last profile *and* the running time average
(which approaches the equilibrium in zero-sum-like cycles), polish each candidate on its apparent support (see
`refine`) and return the candidate with the smallest regret. The caller (`solve`) verifies it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from matrl.gametheory.games import as_game, num_players
from matrl.gametheory.multilinear import gain_table, gains_at, regrets_at
from matrl.gametheory.refine import polish_candidates

Float = NDArray[np.float64]


def _best_polished(table: Float, candidates: Float) -> Float:
    polished = np.concatenate([polish_candidates(table, c) for c in candidates])
    worst = regrets_at(table, polished).max(axis=-1)
    return polished[int(np.argmin(worst))]


def _starts(rng: np.random.Generator, starts: int, n: int) -> Float:
    """The uniform profile first, then random interior profiles (dynamics cannot leave the boundary)."""
    profiles = rng.uniform(0.05, 0.95, size=(starts, n))
    profiles[0] = 0.5
    return profiles


def _unit_table(payoffs: ArrayLike) -> tuple[Float, int]:
    game = as_game(payoffs)
    n = num_players(game)
    scale = float(np.abs(game).max())
    return gain_table(game / scale if scale > 0.0 else game, n), n


def replicator_dynamics(
    payoffs: ArrayLike,
    rng: np.random.Generator,
    *,
    starts: int = 8,
    steps: int = 2000,
    step_size: float = 0.5,
    rtol: float = 1e-9,
) -> Float:
    """Discrete replicator dynamics ``p_i += eta p_i (1 - p_i) d_i(p_-i)`` on the game divided by its scale.

    With gains in [-2, 2] and ``eta <= 0.5`` the update stays inside [0, 1]. Stops early once some start's
    profile has regret below ``rtol``. Returns the best polished candidate, shape ``(n,)``.
    """
    table, n = _unit_table(payoffs)
    profiles = _starts(rng, starts, n)
    total = np.zeros_like(profiles)
    for step in range(1, steps + 1):
        gains = gains_at(table, profiles)
        profiles = np.clip(profiles + step_size * profiles * (1.0 - profiles) * gains, 0.0, 1.0)
        total += profiles
        if step % 100 == 0 and regrets_at(table, profiles).max(axis=-1).min() <= rtol:
            break
    return _best_polished(table, np.concatenate([profiles, total / step]))


def fictitious_play(
    payoffs: ArrayLike,
    rng: np.random.Generator,
    *,
    starts: int = 8,
    steps: int = 2000,
    rtol: float = 1e-9,
) -> Float:
    """Fictitious play: each player best-responds to the others' empirical mixtures, which are then updated.

    The empirical mixtures (beliefs) are the output. A player indifferent within ``rtol`` keeps its belief.
    Returns the best polished candidate, shape ``(n,)``.
    """
    table, n = _unit_table(payoffs)
    beliefs = _starts(rng, starts, n)
    for step in range(1, steps + 1):
        gains = gains_at(table, beliefs)
        best = np.where(gains > rtol, 1.0, np.where(gains < -rtol, 0.0, beliefs))
        beliefs = beliefs + (best - beliefs) / (step + 1.0)
        if step % 100 == 0 and regrets_at(table, beliefs).max(axis=-1).min() <= rtol:
            break
    return _best_polished(table, beliefs)
