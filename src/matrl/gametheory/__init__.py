"""Game theory for MATRL's meta-game: n-player 2-action games, equilibria, selection.

Entry point: `solve` (validated, verified, never silently failing); see docs/gametheory.md.
"""

from matrl.gametheory.cmaes import cma_es
from matrl.gametheory.games import (
    action_values,
    as_game,
    expected_payoffs,
    is_equilibrium,
    nash_conv,
    num_players,
    payoff_scale,
    regrets,
)
from matrl.gametheory.iterative import fictitious_play, replicator_dynamics
from matrl.gametheory.refine import polish
from matrl.gametheory.selection import DEFAULT_SELECTION, SELECTIONS, select_equilibrium
from matrl.gametheory.solver import DEFAULT_FALLBACKS, KEEP_CURRENT, METHODS, NashResult, SolverStats, solve
from matrl.gametheory.support_enumeration import (
    MAX_ALL_PLAYERS,
    MAX_EXACT_PLAYERS,
    Equilibria,
    enumerate_equilibria,
    equilibria,
    first_equilibrium,
)
from matrl.gametheory.twobytwo import equilibria_2x2, equilibria_2x2_batch, equilibria_2x2_scalar

__all__ = [
    "DEFAULT_FALLBACKS",
    "DEFAULT_SELECTION",
    "KEEP_CURRENT",
    "MAX_ALL_PLAYERS",
    "MAX_EXACT_PLAYERS",
    "METHODS",
    "SELECTIONS",
    "Equilibria",
    "NashResult",
    "SolverStats",
    "action_values",
    "as_game",
    "cma_es",
    "enumerate_equilibria",
    "equilibria",
    "equilibria_2x2",
    "equilibria_2x2_batch",
    "equilibria_2x2_scalar",
    "expected_payoffs",
    "fictitious_play",
    "first_equilibrium",
    "is_equilibrium",
    "nash_conv",
    "num_players",
    "payoff_scale",
    "polish",
    "regrets",
    "replicator_dynamics",
    "select_equilibrium",
    "solve",
]
