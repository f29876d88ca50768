"""CMA-ES on the squared-regret objective: the solver the MATRL paper used (via the `neng` package).

Like `neng`, each player's mixed strategy is the absolute-value normalisation of two unconstrained numbers
(``2n`` search dimensions) and the objective is ``sum_i regret_i**2``. Unlike the original code:

* the game is divided by its payoff scale first, so MATRL's tiny payoffs (about 1e-8) do not make the very
  first generation "converge" (official-matrl.md, b.6: with raw 1e-8 payoffs rho was random every epoch);
* it is seeded from the caller's generator and quiet: no console output, no ``outcmaes/`` files; the `cma`
  package seeds numpy's *global* generator, whose state is saved and restored around the run;
* the result is polished on its apparent support (`refine`), because CMA-ES alone stalls at regrets around
  1e-5 to 1e-7, above the 1e-9 that `solve` verifies (pass ``polish=False`` for the paper's behaviour).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from numpy.typing import ArrayLike, NDArray

from matrl.gametheory.games import as_game, num_players
from matrl.gametheory.multilinear import gain_table, regrets_at
from matrl.gametheory.refine import polish_candidates

Float = NDArray[np.float64]

logger = logging.getLogger("matrl.gametheory")

_POLISH_EVERY = 10  # generations between attempts to polish the current best point


def _profiles(x: Float) -> Float:
    """Abs-normalised pairs ``(m, 2n) -> (m, n)``: P(action 0) per player (0.5 for a zero pair)."""
    pairs = np.abs(x.reshape(x.shape[0], -1, 2))
    total = pairs.sum(axis=-1)
    safe = np.where(total > 0.0, total, 1.0)
    return np.where(total > 0.0, pairs[..., 0] / safe, 0.5)


def _run(
    table: Float, x0: Float, sigma0: float, options: dict[str, object], polish: bool, rtol: float
) -> Float:
    """One quiet CMA-ES run; returns the best point found, shape ``(2n,)``.

    With ``polish`` the run also stops as soon as polishing its current best point gives a verified
    equilibrium: CMA-ES only has to reach the right basin, not machine precision.
    """
    import cma  # imported on first use: it takes about a second to import

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        strategy = cma.CMAEvolutionStrategy(x0, sigma0, options)
        while not strategy.stop():
            population = np.asarray(strategy.ask())
            regrets = regrets_at(table, _profiles(population))
            strategy.tell(list(population), (regrets**2).sum(axis=-1).tolist())
            if polish and strategy.countiter % _POLISH_EVERY == 0:
                candidates = polish_candidates(
                    table, _profiles(np.asarray(strategy.result.xbest)[None, :])[0]
                )
                if regrets_at(table, candidates).max(axis=-1).min() <= rtol:
                    break
        best = strategy.result.xbest
    for warning in caught:
        logger.debug("cma: %s", warning.message)
    return np.asarray(best if best is not None else x0, dtype=np.float64)


def cma_es(
    payoffs: ArrayLike,
    rng: np.random.Generator,
    *,
    sigma0: float = 0.3,
    max_evals: int | None = None,
    ftarget: float = 1e-12,
    restarts: int = 2,
    polish: bool = True,
    rtol: float = 1e-9,
) -> Float:
    """Minimise the sum of squared regrets with CMA-ES from seeded random starts; returns a profile ``(n,)``.

    Args:
        payoffs: one game ``(n, 2, ..., 2)``.
        rng: source of the start points and of the `cma` seeds.
        sigma0: initial step size (as in `neng`).
        max_evals: evaluation budget per run; default ``1000 * 2n``.
        ftarget: a run stops once the objective (game divided by its scale) is this small; the paper's
            criterion was 1e-10 (on raw payoffs).
        restarts: further runs from new random starts, with doubled population (as `neng` on stalls), while
            the result's regret exceeds ``rtol`` (CMA-ES gets stuck in local minima of the objective on a
            few percent of games).
        polish: polish each run's result on its support (see module docstring).
        rtol: regret (relative to the payoff scale) that counts as solved.
    """
    game = as_game(payoffs)
    n = num_players(game)
    scale = float(np.abs(game).max())
    table = gain_table(game / scale if scale > 0.0 else game, n)
    dim = 2 * n
    best_profile, best_regret = np.ones(n), np.inf
    state = np.random.get_state()  # noqa: NPY002 - `cma` draws from the global generator; restored below
    try:
        for attempt in range(1 + restarts):
            options: dict[str, object] = {
                "seed": int(rng.integers(1, 2**31 - 1)),
                "popsize": (4 + int(3 * np.log(dim))) * 2**attempt,
                "verbose": -10,
                "verb_disp": 0,
                "verb_log": 0,
                "verb_time": False,
                "maxfevals": max_evals if max_evals is not None else 1000 * dim,
                "ftarget": ftarget,
                "tolfun": 0.0,
                "tolfunhist": 0.0,
                "tolx": 1e-14,
            }
            start = rng.uniform(0.0, 1.0, size=dim)
            found = _profiles(_run(table, start, sigma0, options, polish, rtol)[None, :])
            candidates = polish_candidates(table, found[0]) if polish else found
            worst = regrets_at(table, candidates).max(axis=-1)
            pick = int(np.argmin(worst))
            if worst[pick] < best_regret:
                best_profile, best_regret = candidates[pick], float(worst[pick])
            if best_regret <= rtol:
                break
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return best_profile
