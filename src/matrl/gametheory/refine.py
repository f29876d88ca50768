"""Polishing an approximate equilibrium into an exact one.

Iterative solvers (CMA-ES, replicator dynamics, fictitious play) stop at regrets of about 1e-5 to 1e-8, far
above the 1e-9 that `solve` verifies. Near an equilibrium the approximate profile reveals the support: players
with probabilities near 0 or 1 are pure, the others mix. Solving that support's indifference equations by
Newton's method from the approximate profile gives the equilibrium to machine precision. Several thresholds
for "near 0 or 1" are tried and the profile with the smallest regret (the unpolished one included) is kept, so
polishing never makes a profile worse.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from matrl.gametheory.multilinear import gain_table, newton, regrets_at, support_gather

Float = NDArray[np.float64]

_THRESHOLDS = (1e-2, 1e-4, 1e-7)


def polish_candidates(table: Float, profile: Float) -> Float:
    """The profile and its support-polished variants, shape ``(m, n)`` (not yet ranked)."""
    n = profile.shape[0]
    profile = np.clip(profile, 0.0, 1.0)
    candidates = [profile]
    for threshold in _THRESHOLDS:
        mixing = (profile > threshold) & (profile < 1.0 - threshold)
        rounded = np.where(profile >= 0.5, 1.0, 0.0)
        mixers = tuple(int(i) for i in np.flatnonzero(mixing))
        if not mixers:
            candidates.append(rounded)
            continue
        pure = tuple(int(i) for i in np.flatnonzero(~mixing))
        actions = (1.0 - rounded[list(pure)]).astype(np.int8)[None, :]
        gather, sign = support_gather(n, mixers, pure, actions)
        tensor = table.reshape(-1)[gather] * sign
        k = len(mixers)
        t, _ = newton(tensor[:, :k], profile[list(mixers)][None, :], iterations=30)
        polished = rounded.copy()
        polished[list(mixers)] = np.clip(t[0], 0.0, 1.0)
        candidates.append(polished)
    return np.stack(candidates)


def polish(payoffs: Float, profile: Float) -> tuple[Float, float]:
    """The best of ``profile`` and its support-polished variants, and its largest regret relative to scale.

    Args:
        payoffs: one validated game ``(n, 2, ..., 2)``.
        profile: an approximate equilibrium ``(n,)``.
    """
    n = profile.shape[0]
    scale = float(np.abs(payoffs).max())
    table = gain_table(payoffs / scale if scale > 0.0 else payoffs, n)
    candidates = polish_candidates(table, np.asarray(profile, dtype=np.float64))
    worst = regrets_at(table, candidates).max(axis=-1)
    best = int(np.argmin(worst))
    return candidates[best], float(worst[best])
