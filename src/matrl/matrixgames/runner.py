"""Run a learner on a batch of games until each converges to a Nash equilibrium or the horizon ends.

Games that have converged are dropped from the batch (their result is final: the criterion records the first
update after which the policies are close to an equilibrium), so the cost of an iteration shrinks with the
number of games still learning. Learners are deterministic per game (randomised ones draw from per-game
counter-based streams), so dropping games does not change the others' runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from matrl.matrixgames.batch import FloatArray, GameBatch
from matrl.matrixgames.learners import Learner

#: The paper's initial policies: player 1 plays [0.9, 0.1], player 2 plays [0.2, 0.8].
X0 = 0.9
Y0 = 0.2
TOLERANCE = 0.05


@dataclass(frozen=True)
class RunResult:
    """Per-game outcome of one learner.

    Attributes:
        hit: (G,) 0-based index of the first update after which the policies were within the tolerance of
            an equilibrium, -1 if that never happened within the horizon.
        x, y: (G,) the policies at the end (at the hit for converged games).
    """

    hit: NDArray[np.int64]
    x: FloatArray
    y: FloatArray


def run_learner(
    learner: Learner,
    games: GameBatch,
    iterations: int = 1000,
    *,
    x0: float = X0,
    y0: float = Y0,
    tolerance: float = TOLERANCE,
    squared_distance: bool = False,
    first_counted: int = 0,
    on_iteration: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Iterate ``learner`` on every game for at most ``iterations`` updates.

    Args:
        learner: the update rule.
        games: the batch of games (with their convergence targets).
        iterations: the horizon (number of updates).
        x0: initial P(action 0) of player 0, the same in every game.
        y0: initial P(action 0) of player 1.
        tolerance: converged when ``|x - x*| < tolerance`` and ``|y - y*| < tolerance`` for some equilibrium.
        squared_distance: test the squared distances as the original code does.
        first_counted: hits at updates with a smaller 0-based index are ignored and the game goes on (the
            official WoLF loop keeps running and records its first hit at index >= 1, see `measure`).
        on_iteration: called as ``on_iteration(t, active)`` after every update (progress display).
    """
    n = len(games)
    hit = np.full(n, -1, dtype=np.int64)
    final_x = np.full(n, x0, dtype=np.float64)
    final_y = np.full(n, y0, dtype=np.float64)
    active = np.arange(n)
    batch = games
    x = final_x.copy()
    y = final_y.copy()
    for t in range(iterations):
        if active.size == 0:
            break
        x, y = learner.step(batch, x, y, t)
        if t < first_counted:
            if on_iteration is not None:
                on_iteration(t, int(active.size))
            continue
        done = batch.converged(x, y, tolerance, squared_distance)
        if np.any(done):
            hit[active[done]] = t
            final_x[active[done]] = x[done]
            final_y[active[done]] = y[done]
            keep = np.flatnonzero(~done)
            active, batch, x, y = active[keep], batch.take(keep), x[keep], y[keep]
        if on_iteration is not None:
            on_iteration(t, int(active.size))
    final_x[active] = x
    final_y[active] = y
    return RunResult(hit, final_x, final_y)


def trajectory(
    learner: Learner, games: GameBatch, iterations: int, *, x0: float = X0, y0: float = Y0
) -> tuple[FloatArray, FloatArray]:
    """Policies of every game at every step, without stopping: two arrays of shape (iterations + 1, G)."""
    xs = np.empty((iterations + 1, len(games)))
    ys = np.empty_like(xs)
    xs[0], ys[0] = x0, y0
    for t in range(iterations):
        xs[t + 1], ys[t + 1] = learner.step(games, xs[t], ys[t], t)
    return xs, ys
