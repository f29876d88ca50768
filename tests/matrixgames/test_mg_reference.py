"""The vectorised `original` variant against a scalar, nashpy-based re-statement of the official code.

The reference below restates the spec (matrix-games.md sec. 4-5) one game at a time with Python floats and
nashpy's support enumeration, as the official script runs; the study's vectorised engine must give the
same convergence step for every game and learner.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest

from matrl.matrixgames.batch import GameBatch
from matrl.matrixgames.games import CATEGORIES, random_games
from matrl.matrixgames.runner import run_learner
from matrl.matrixgames.study import learners_for

nash = pytest.importorskip("nashpy")

Matrix = list[list[float]]
Step = Callable[[float, float, Matrix, Matrix], tuple[float, float]]


def clip(v: float) -> float:
    return max(0.0, min(1.0, v))


def value(a: float, b: float, p: Matrix) -> float:
    u = p[0][0] - p[0][1] - p[1][0] + p[1][1]
    return a * b * u + a * (p[0][1] - p[1][1]) + b * (p[1][0] - p[1][1]) + p[1][1]


def grad0(b: float, p0: Matrix) -> float:
    return b * (p0[0][0] - p0[0][1] - p0[1][0] + p0[1][1]) + p0[0][1] - p0[1][1]


def grad1(a: float, p1: Matrix) -> float:
    return a * (p1[0][0] - p1[0][1] - p1[1][0] + p1[1][1]) + p1[1][0] - p1[1][1]


def kl(p: float, q: float) -> float:
    if p in (0.0, 1.0) or q in (0.0, 1.0):
        return 0.0
    return float(p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q)))


def a_tr(x: float, y: float, a: float, b: float, p: Matrix) -> float:
    base = value(a, b, p)
    adv = [[p[i][j] - base for j in range(2)] for i in range(2)]
    return (
        (x * y - a * b) * adv[0][0]
        + (x * (1 - y) - a * (1 - y)) * adv[0][1]
        + ((1 - x) * b - (1 - a) * b) * adv[1][0]
        + ((1 - x) * (1 - y) - (1 - a) * (1 - b)) * adv[1][1]
    )


def iga(a: float, b: float, p0: Matrix, p1: Matrix) -> tuple[float, float]:
    return clip(a + 0.02 * grad0(b, p0)), clip(b + 0.02 * grad1(a, p1))


def iga_pp(a: float, b: float, p0: Matrix, p1: Matrix) -> tuple[float, float]:
    b_pp, a_pp = b + 0.01 * grad1(a, p1), a + 0.01 * grad0(b, p0)
    return clip(a + 0.02 * grad0(b_pp, p0)), clip(b + 0.02 * grad1(a_pp, p1))


def matrl(a: float, b: float, p0: Matrix, p1: Matrix) -> tuple[float, float]:
    ga, gb = grad0(b, p0), grad1(a, p1)
    a1 = clip(a + 0.02 * (ga + 100 * kl(a, a + 0.02 * ga)))
    b1 = clip(b + 0.02 * (gb + 100 * kl(b, b + 0.02 * gb)))
    m0 = np.array([[0.0, a_tr(a, b1, a, b, p0)], [a_tr(a1, b, a, b, p0), a_tr(a1, b1, a, b, p0)]])
    m1 = np.array([[0.0, a_tr(a, b1, a, b, p1)], [a_tr(a1, b, a, b, p1), a_tr(a1, b1, a, b, p1)]])
    rho, sigma = list(nash.Game(m0, m1).support_enumeration())[-1]
    a_m = rho[0] * a + rho[1] * a1 + 100 * kl(a, a1)
    b_m = sigma[0] * b + sigma[1] * b1 + 100 * kl(b, b1)
    return clip(a + 0.03 * grad0(b_m, p0)), clip(b + 0.03 * grad1(a_m, p1))


def converge_step(
    step: Step, p0: Matrix, p1: Matrix, equilibria: list[tuple[float, float]], wolf: bool
) -> int:
    """The official loop: stop at the first close update (0 = never); WoLF runs on, keeps its first i > 0."""
    a, b, found = 0.9, 0.2, 0
    for i in range(1000):
        a, b = step(a, b, p0, p1)
        if any((a - x) ** 2 < 2.5e-3 and (b - y) ** 2 < 2.5e-3 for x, y in equilibria):
            if not wolf:
                return i
            if found == 0:
                found = i
    return found


def wolf_step(target: tuple[float, float]) -> Step:
    def step(a: float, b: float, p0: Matrix, p1: Matrix) -> tuple[float, float]:
        lr0 = 0.01 if value(a, b, p0) > value(target[0], b, p0) else 0.06
        lr1 = 0.01 if value(a, b, p1) > value(a, target[1], p1) else 0.06
        return clip(a + lr0 * grad0(b, p0)), clip(b + lr1 * grad1(a, p1))

    return step


@pytest.mark.parametrize("category", CATEGORIES)
def test_vectorised_original_equals_the_scalar_reference(category: str) -> None:
    seeds = np.arange(6)
    payoffs = random_games(category, seeds)  # type: ignore[arg-type]
    batch = GameBatch.from_payoffs(payoffs, nashpy_like=True)
    learners = learners_for("original")
    ours = {
        learner.name: run_learner(
            learner, batch, 1000, squared_distance=True, first_counted=int(name == "WoLF")
        ).hit
        for learner, name in zip(learners, ("IGA", "IGA-PP", "WoLF", "MATRL"), strict=True)
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for g, game in enumerate(payoffs):
            p0, p1 = game[0].tolist(), game[1].tolist()
            equilibria = [(s0[0], s1[0]) for s0, s1 in nash.Game(game[0], game[1]).support_enumeration()]
            steps = {"IGA": iga, "IGA-PP": iga_pp, "WoLF": wolf_step(equilibria[0]), "MATRL": matrl}
            for name, step in steps.items():
                expected = converge_step(step, p0, p1, equilibria, wolf=name == "WoLF")
                got = int(ours[name][g])
                assert (got if got > 0 else 0) == expected, (category, g, name)
