"""The 2x2 games of the matrix-game study: named classics and the original code's random generators.

Conventions (those of :mod:`matrl.gametheory`): a game is a payoff tensor ``payoffs[..., i, a0, a1]``
(player ``i``'s payoff when player 0 plays ``a0`` and player 1 plays ``a1``), and a policy is the
probability of action 0. In the notation of the original code ``P0 = payoffs[0]`` and ``P1 = payoffs[1]``,
both indexed ``[row = player 0's action][column = player 1's action]``.

Random games reproduce the official code bit for bit. For game seed ``s`` it calls ``np.random.seed(s)`` and
then draws ``U_k = np.random.random_sample()`` in a fixed order; a legacy ``RandomState(s).random_sample(9)``
yields the same numbers in the same order, which lets us draw all seeds first and then build every game of
a category with array arithmetic (same IEEE operations, so the same bits). The games of a category for
``count`` games and first seed ``first_seed`` are the seeds ``first_seed .. first_seed + count - 1``.

Every generator draws exactly the same number of uniforms whatever branch it takes (8 for coordination,
9 for the others), so a game's payoffs depend on its own seed only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal, get_args

import numpy as np
from numpy.typing import NDArray

Category = Literal["coordination", "anti-coordination", "cyclic", "dominance-solvable"]
#: The three categories of the paper's Table 1, in table order.
TABLE1_CATEGORIES: Final[tuple[Category, ...]] = ("coordination", "anti-coordination", "cyclic")
CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)

_DRAWS: Final[int] = 9  # the largest number of uniforms any generator consumes


def _bimatrix(p0: Sequence[Sequence[float]], p1: Sequence[Sequence[float]]) -> NDArray[np.float64]:
    return np.array([p0, p1], dtype=np.float64)


#: Classic games as listed in the original code (rows = player 0's action, columns = player 1's).
NAMED_GAMES: Final[dict[str, NDArray[np.float64]]] = {
    "matching_pennies": _bimatrix([[1, -1], [-1, 1]], [[-1, 1], [1, -1]]),
    "prisoners_dilemma": _bimatrix([[3, 1], [4, 2]], [[3, 4], [1, 2]]),
    "chicken": _bimatrix([[3, 2], [4, 1]], [[3, 4], [2, 1]]),
    "stag_hunt": _bimatrix([[4, 1], [3, 2]], [[4, 3], [1, 2]]),
    "rotation": _bimatrix([[0, 3], [1, 2]], [[3, 2], [0, 1]]),
    "deadlock": _bimatrix([[1, 2], [3, 4]], [[1, 3], [2, 4]]),
    "harmony": _bimatrix([[4, 3], [2, 1]], [[4, 2], [3, 1]]),
    "coordination_1": _bimatrix([[1, 0], [0, 1]], [[1, 0], [0, 1]]),
    "coordination_2": _bimatrix([[4, 2], [1, 3]], [[3, 2], [1, 4]]),
}


def named_game(name: str) -> NDArray[np.float64]:
    """A copy of one named game's payoff tensor, shape (2, 2, 2)."""
    try:
        return NAMED_GAMES[name].copy()
    except KeyError:
        raise ValueError(f"unknown game {name!r}; known: {', '.join(NAMED_GAMES)}") from None


def draw_uniforms(seeds: Sequence[int] | NDArray[np.integer]) -> NDArray[np.float64]:
    """The first nine ``random_sample()`` draws after ``np.random.seed(s)``, one row per seed: (G, 9).

    Column ``k`` is the original code's ``U_{k+1}``.
    """
    seeds = np.asarray(seeds, dtype=np.int64).reshape(-1)
    out = np.empty((seeds.size, _DRAWS), dtype=np.float64)
    for row, seed in enumerate(seeds):
        out[row] = np.random.RandomState(int(seed)).random_sample(_DRAWS)
    return out


def _assemble(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    c: NDArray[np.float64],
    d: NDArray[np.float64],
    e: NDArray[np.float64],
    f: NDArray[np.float64],
    g: NDArray[np.float64],
    h: NDArray[np.float64],
) -> NDArray[np.float64]:
    """``P0 = [[a, b], [c, d]]``, ``P1 = [[e, g], [f, h]]`` (g sits top-right in P1, as in the original)."""
    p0 = np.stack([np.stack([a, b], -1), np.stack([c, d], -1)], -2)
    p1 = np.stack([np.stack([e, g], -1), np.stack([f, h], -1)], -2)
    return np.stack([p0, p1], axis=-3)


def _coordination(u: NDArray[np.float64]) -> NDArray[np.float64]:
    b = u[:, 0]
    d = b + u[:, 1]
    c = d + u[:, 2]
    a = c + u[:, 3]
    g = u[:, 4]
    e = g + u[:, 5]
    f = u[:, 6]
    h = f + u[:, 7]
    return _assemble(a, b, c, d, e, f, g, h)


def _anti_coordination(u: NDArray[np.float64]) -> NDArray[np.float64]:
    a = -u[:, 0] - 1
    c = a + u[:, 1]
    low = u[:, 2] < 0.5
    # branch U3 < 0.5
    b_low = np.abs(a) - 0.1 * u[:, 3]
    d_low = np.where(np.abs(c) - b_low < 0, np.abs(c) - 0.1 * u[:, 4], b_low - 0.1 * u[:, 4])
    # branch U3 >= 0.5
    d_high = c + 0.1 * u[:, 3]
    b_high = d_high + 0.1 * u[:, 4]
    b = np.where(low, b_low, b_high)
    d = np.where(low, d_low, d_high)
    e = u[:, 5]
    g = e + u[:, 6]
    h = u[:, 7]
    f = h + u[:, 8]
    return _assemble(a, b, c, d, e, f, g, h)


def _cyclic(u: NDArray[np.float64]) -> NDArray[np.float64]:
    low = u[:, 0] < 0.5
    # branch U1 < 0.5: player 1 prefers column 1 against row 0, column 0 against row 1
    e_l = u[:, 1]
    g_l = e_l + u[:, 2]
    h_l = u[:, 3]
    f_l = h_l + u[:, 4]
    a_l = 0.5 + u[:, 5]
    c_l = -a_l + 0.1 * u[:, 6]
    d_l = np.abs(c_l) - 0.1 * u[:, 7]
    b_l = d_l - 0.1 * u[:, 8]
    # branch U1 >= 0.5: the mirror image
    g_h = u[:, 1]
    e_h = g_h + u[:, 2]
    f_h = u[:, 3]
    h_h = f_h + u[:, 4]
    c_h = u[:, 5] + 0.5
    a_h = -c_h + 0.1 * u[:, 6]
    b_h = np.abs(a_h) - 0.1 * u[:, 7]
    d_h = b_h - 0.1 * u[:, 8]
    pick = [np.where(low, lo, hi) for lo, hi in ((a_l, a_h), (b_l, b_h), (c_l, c_h), (d_l, d_h))]
    pick += [np.where(low, lo, hi) for lo, hi in ((e_l, e_h), (f_l, f_h), (g_l, g_h), (h_l, h_h))]
    return _assemble(*pick)


def _dominance_solvable(u: NDArray[np.float64]) -> NDArray[np.float64]:
    e, g, f, h, a, c = (u[:, k] for k in range(6))
    low = u[:, 6] < 0.5
    b = np.where(low, a + u[:, 7], u[:, 8])
    d = np.where(low, u[:, 8], c + u[:, 7])
    return _assemble(a, b, c, d, e, f, g, h)


_GENERATORS: Final = {
    "coordination": _coordination,
    "anti-coordination": _anti_coordination,
    "cyclic": _cyclic,
    "dominance-solvable": _dominance_solvable,
}


def random_games(category: Category, seeds: Sequence[int] | NDArray[np.integer]) -> NDArray[np.float64]:
    """The original code's random games of one category for the given game seeds; shape (G, 2, 2, 2).

    Seeds whose game fails the original's ``assert`` (:func:`original_assertions`) are kept: the original
    would crash on them (the first is anti-coordination seed 2783, where only the cosmetic ``|d| < |c|``
    fails and the best-response structure is still anti-coordination, see :func:`has_category_structure`).
    """
    if category not in _GENERATORS:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
    return _GENERATORS[category](draw_uniforms(seeds))


def random_game(category: Category, seed: int) -> NDArray[np.float64]:
    """One random game, shape (2, 2, 2)."""
    return random_games(category, [seed])[0]


def study_seeds(count: int, first_seed: int = 0) -> NDArray[np.int64]:
    """The game seeds of one category of the study: ``first_seed .. first_seed + count - 1``."""
    if count < 0:
        raise ValueError(f"the number of games must be >= 0, got {count}")
    return np.arange(first_seed, first_seed + count, dtype=np.int64)


def _entries(payoffs: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    p0, p1 = payoffs[..., 0, :, :], payoffs[..., 1, :, :]
    a, b, c, d = p0[..., 0, 0], p0[..., 0, 1], p0[..., 1, 0], p0[..., 1, 1]
    e, g, f, h = p1[..., 0, 0], p1[..., 0, 1], p1[..., 1, 0], p1[..., 1, 1]
    return a, b, c, d, e, f, g, h


def original_assertions(category: Category, payoffs: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Where the original generator's closing ``assert`` holds (it would crash elsewhere); shape (...)."""
    a, b, c, d, e, f, g, h = _entries(np.asarray(payoffs, dtype=np.float64))
    if category == "coordination":
        return np.asarray((a > c) & (c > d) & (d > b) & (b >= 0) & (e > g) & (h > f))
    if category == "anti-coordination":
        return np.asarray(
            (a < c) & (b > d) & (e < g) & (f > h) & (np.abs(b) < np.abs(a)) & (np.abs(d) < np.abs(c))
            & (a < 0) & (c < 0)
        )  # fmt: skip
    if category == "cyclic":
        magnitudes = (np.abs(b) < np.abs(a)) & (np.abs(d) < np.abs(c)) & (a * c < 0)
        first = (a > c) & (e < g) & (b < d) & (f > h)
        second = (a < c) & (e > g) & (b > d) & (f < h)
        return np.asarray(magnitudes & (first | second))
    if category == "dominance-solvable":
        return np.asarray((b > a) | (d > c))
    raise ValueError(f"unknown category {category!r}")


def has_category_structure(category: Category, payoffs: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Where a game has its category's best-response structure (Pangallo et al.'s definition).

    Coordination: both players want to match (two pure NE on the diagonal). Anti-coordination: both want
    to mismatch (two pure NE off the diagonal). Cyclic: one wants to match and the other to mismatch, so
    best responses cycle. Dominance-solvable: some player has a strictly dominant action.
    """
    a, b, c, d, e, f, g, h = _entries(np.asarray(payoffs, dtype=np.float64))
    p0_match = (a > c) & (d > b)  # player 0 copies player 1's action
    p0_mismatch = (a < c) & (d < b)
    p1_match = (e > g) & (h > f)
    p1_mismatch = (e < g) & (h < f)
    if category == "coordination":
        return np.asarray(p0_match & p1_match)
    if category == "anti-coordination":
        return np.asarray(p0_mismatch & p1_mismatch)
    if category == "cyclic":
        return np.asarray((p0_match & p1_mismatch) | (p0_mismatch & p1_match))
    if category == "dominance-solvable":
        p0_dominant = ((a > c) & (b > d)) | ((a < c) & (b < d))
        p1_dominant = ((e > g) & (f > h)) | ((e < g) & (f < h))
        return np.asarray(p0_dominant | p1_dominant)
    raise ValueError(f"unknown category {category!r}")
