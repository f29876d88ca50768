"""Game theory for MATRL's meta-game: n-player 2-action games, equilibria, selection."""

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
from matrl.gametheory.twobytwo import equilibria_2x2, equilibria_2x2_batch

__all__ = [
    "action_values",
    "as_game",
    "equilibria_2x2",
    "equilibria_2x2_batch",
    "expected_payoffs",
    "is_equilibrium",
    "nash_conv",
    "num_players",
    "payoff_scale",
    "regrets",
]
