"""Optional cross-check against pygambit (GPL, never a dependency; ``pip install 'pygambit<17'`` to run).

pygambit is not a trustworthy oracle alone (anchors.md: enumpoly misses equilibria, gnm returns
non-equilibria on tie games), so the check is one-way: every profile pygambit returns must pass our regret
check and be among our equilibria; ours must be equilibria; the sets are never required to be equal. Only
generic games are used (enumpoly hangs and gnm aborts on tie games).
"""

from __future__ import annotations

import numpy as np
import pytest
from gt_helpers import random_game

from matrl.gametheory import equilibria, is_equilibrium

gbt = pytest.importorskip("pygambit")


def _solve(game: np.ndarray, solver: str, **options: object) -> np.ndarray:
    """Run ``pygambit.nash.<solver>`` and return its equilibria as P(action 0) per player."""
    gambit_game = gbt.Game.from_arrays(*[game[i] for i in range(game.shape[0])])
    result = getattr(gbt.nash, solver)(gambit_game, **options)
    rows = [
        [float(eq[next(iter(player.strategies))]) for player in gambit_game.players]
        for eq in result.equilibria
    ]
    return np.array(rows, dtype=np.float64).reshape(-1, game.shape[0])


def _contained(theirs: np.ndarray, ours: np.ndarray, atol: float) -> bool:
    return all(np.any(np.all(np.abs(ours - row) <= atol, axis=1)) for row in theirs)


@pytest.mark.parametrize("seed", range(30))
def test_two_players_enummixed(seed: int) -> None:
    game = random_game(seed, 2)
    theirs = _solve(game, "enummixed_solve", rational=True)
    ours = equilibria(game)
    assert np.all(is_equilibrium(game, theirs))  # exact rationals: our 1e-9 check applies as is
    assert np.all(is_equilibrium(game, ours))
    assert _contained(theirs, ours, atol=1e-9)


@pytest.mark.parametrize("n", [3, 4])
@pytest.mark.parametrize("seed", range(10))
def test_more_players_enumpoly(n: int, seed: int) -> None:
    game = random_game(1000 * n + seed, n)
    theirs = _solve(game, "enumpoly_solve", maxregret=1e-9)
    ours = equilibria(game)
    # enumpoly's floats are approximate (its own regret bound is relative to the game's payoff range)
    assert np.all(is_equilibrium(game, theirs, rtol=1e-6))
    assert np.all(is_equilibrium(game, ours))
    assert _contained(theirs, ours, atol=1e-6)


@pytest.mark.parametrize("n", [3, 4])
@pytest.mark.parametrize("seed", range(5))
def test_logit_lands_on_one_of_ours(n: int, seed: int) -> None:
    game = random_game(2000 * n + seed, n)
    theirs = _solve(game, "logit_solve", maxregret=1e-10)
    ours = equilibria(game)
    assert np.all(is_equilibrium(game, theirs, rtol=1e-6))
    assert _contained(theirs, ours, atol=1e-4)
