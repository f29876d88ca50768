"""Games with known equilibria, and an independent (slow, brute-force) equilibrium finder for cross-checks."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from matrl.gametheory import action_values, is_equilibrium


def profiles_of(n: int) -> list[tuple[int, ...]]:
    return list(itertools.product((0, 1), repeat=n))


def gain_game(gains: list, n: int) -> np.ndarray:
    """A game in which player i's payoff is ``gains[i](a)`` if it plays action 0 and 0 otherwise.

    ``gains[i]`` gets the pure profile (tuple of actions) and must not depend on ``a[i]``; then ``d_i`` is
    exactly that function, which makes equilibria easy to design.
    """
    game = np.zeros((n,) + (2,) * n)
    for a in profiles_of(n):
        for i in range(n):
            if a[i] == 0:
                game[(i, *a)] = gains[i](a)
    return game


def cyclic_mixed_game(q: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Unique, fully mixed equilibrium ``q``: ``d_i = s_i (x_{i+1} - q_{i+1})``, an odd number of ``s < 0``.

    If some player mixes, the next one must be at ``q`` too, so everybody mixes; and with an odd number of
    "mismatchers" the best-response cycle has no pure fixed point (generalised matching pennies).
    """
    n = q.shape[0]

    def gain(i: int):
        j = (i + 1) % n
        return lambda a: signs[i] * ((1.0 if a[j] == 0 else 0.0) - q[j])

    return gain_game([gain(i) for i in range(n)], n)


def jordan_game(n: int) -> np.ndarray:
    """Cyclic matching pennies: players 0..n-2 match their successor, the last mismatches player 0."""
    return cyclic_mixed_game(np.full(n, 0.5), np.array([1.0] * (n - 1) + [-1.0]))


def coordination_game(n: int, reward_zero: float, reward_one: float) -> np.ndarray:
    """Everybody gets ``reward_zero`` if all play 0, ``reward_one`` if all play 1, else 0."""
    game = np.zeros((n,) + (2,) * n)
    game[(slice(None),) + (0,) * n] = reward_zero
    game[(slice(None),) + (1,) * n] = reward_one
    return game


def dominant_game(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Own-action terms plus arbitrary terms in the others' actions: a unique, pure, dominant-strategy NE."""
    own = rng.uniform(-1, 1, size=(n, 2))
    game = np.zeros((n,) + (2,) * n)
    for i in range(n):
        others = rng.uniform(-1, 1, size=(2,) * n).mean(axis=i, keepdims=True)  # independent of a_i
        for a in profiles_of(n):
            game[(i, *a)] = own[i, a[i]] + others[tuple(0 if j == i else a[j] for j in range(n))]
    return game, np.where(own[:, 0] > own[:, 1], 1.0, 0.0)


def random_game(seed: int, n: int) -> np.ndarray:
    """A generic game (U[-1, 1] payoffs): finitely many equilibria, an odd number of them."""
    return np.random.default_rng(seed).uniform(-1, 1, size=(n,) + (2,) * n)


def integer_games(max_players: int = 5):
    """Hypothesis strategy: games with payoffs in {-1, 0, 1}: ties, flat gains, continua of equilibria."""
    return st.integers(1, max_players).flatmap(
        lambda n: hnp.arrays(np.float64, (n,) + (2,) * n, elements=st.sampled_from([-1.0, 0.0, 1.0]))
    )


def float_games(max_players: int = 5):
    """Hypothesis strategy: games with continuous payoffs (also repeated and extreme values)."""
    return st.integers(1, max_players).flatmap(
        lambda n: hnp.arrays(
            np.float64,
            (n,) + (2,) * n,
            elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False),
        )
    )


def same_set(a: np.ndarray, b: np.ndarray, atol: float = 1e-7) -> bool:
    """Equal sets of profiles (rows), up to ``atol``."""
    if a.shape != b.shape:
        return False
    return all(np.any(np.all(np.abs(b - row) <= atol, axis=1)) for row in a) and all(
        np.any(np.all(np.abs(a - row) <= atol, axis=1)) for row in b
    )


def brute_force_equilibria(game: np.ndarray, starts: int = 32, seed: int = 0) -> np.ndarray:
    """Equilibria by scipy's root finder from many random starts on every support, with gains from
    `games.action_values` (independent of the solver's gain tables and subdivision). It can miss roots with
    tiny basins, so it is compared one way: whatever it finds, the exact solver must find too."""
    from scipy.optimize import fsolve

    n = game.shape[0]
    rng = np.random.default_rng(seed)
    found: list[np.ndarray] = []
    for support in itertools.product((0, 1, 2), repeat=n):  # 0/1: pure action, 2: mixing
        mixers = [i for i in range(n) if support[i] == 2]
        base = np.array([1.0 - s if s < 2 else 0.5 for s in support])
        for x0 in rng.uniform(0, 1, size=(starts if mixers else 1, len(mixers))):

            def equations(x: np.ndarray, base=base, mixers=mixers) -> np.ndarray:
                p = base.copy()
                p[mixers] = x
                values = action_values(game, p)
                return (values[:, 0] - values[:, 1])[mixers]

            p = base.copy()
            if mixers:
                x, _, ok, _ = fsolve(equations, x0, full_output=True, xtol=1e-13)
                if ok != 1 or np.any(x <= 0) or np.any(x >= 1):
                    continue
                p[mixers] = x
            if is_equilibrium(game, p, rtol=1e-8) and not any(np.abs(p - q).max() < 1e-6 for q in found):
                found.append(p)
    return np.array(found).reshape(-1, n)
