"""The meta-game behind one interface, in two forms: the 2^n payoff table and the samples.

* `TableMetaGame` wraps today's payoff tensor (n, 2, ..., 2) of `metagame.estimate_meta_game`: up to
  `MAX_TABLE_AGENTS` = 8 agents; the exact solver (support enumeration), every selection rule and the
  table diagnostics (g{i}_{bits} columns, dominance, cross effects) need it.
* `sample_form.SampleMetaGame` keeps the samples and evaluates the same payoffs at any profile in O(n B),
  for any number of agents (solved by `sample_solver.solve_samples`).

``--meta.form`` chooses (`resolve_form`): ``table``, ``samples``, or ``auto`` (the default): the table up to
8 agents, which leaves every run of up to 8 agents exactly as before, and the samples above.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from matrl.gametheory.games import action_values, as_game, expected_payoffs, nash_conv, num_players
from matrl.gametheory.games import payoff_scale as table_scale
from matrl.gametheory.games import regrets as table_regrets
from matrl.gametheory.sample_form import SampleMetaGame

Float = NDArray[np.float64]

#: Most agents the payoff table holds (2^n payoffs per agent; the exact solver's limit too).
MAX_TABLE_AGENTS: Final[int] = 8
FORMS: Final[tuple[str, ...]] = ("auto", "table", "samples")


class MetaGame(Protocol):
    """What a solver and the diagnostics ask of a meta-game (action 0 = keep pi_i, rho = P(keep)).

    Profiles are ``(n,)`` or a batch ``(m, n)``; results carry the same leading axes.
    """

    @property
    def n_agents(self) -> int: ...

    def action_values(self, rho: ArrayLike) -> Float:
        """``(..., n, 2)``: each agent's payoff for keeping / switching against the others' rho."""
        ...

    def payoffs(self, rho: ArrayLike) -> Float:
        """``(..., n)``: each agent's expected payoff at rho."""
        ...

    def regrets(self, rho: ArrayLike) -> Float:
        """``(..., n)``: each agent's gain from its best pure action, >= 0."""
        ...

    def nash_conv(self, rho: ArrayLike) -> Float:
        """Sum of the regrets."""
        ...

    def own_gains(self) -> Float:
        """(n,): agent i's payoff when it alone switches."""
        ...

    def payoff_scale(self) -> float:
        """The unit in which equilibrium tolerances are relative."""
        ...


class TableMetaGame:
    """The explicit payoff tensor ``(n, 2, ..., 2)`` (validated, float64) as a `MetaGame`."""

    def __init__(self, payoffs: ArrayLike) -> None:
        self.table = as_game(payoffs)
        self._n = num_players(self.table)

    @property
    def n_agents(self) -> int:
        return self._n

    def action_values(self, rho: ArrayLike) -> Float:
        return action_values(self.table, rho)

    def payoffs(self, rho: ArrayLike) -> Float:
        return expected_payoffs(self.table, rho)

    def regrets(self, rho: ArrayLike) -> Float:
        return table_regrets(self.table, rho)

    def nash_conv(self, rho: ArrayLike) -> Float:
        return nash_conv(self.table, rho)

    def own_gains(self) -> Float:
        n = self._n
        return np.array([self.table[(i, *(1 if j == i else 0 for j in range(n)))] for i in range(n)])

    def payoff_scale(self) -> float:
        """The largest absolute payoff over all 2^n profiles (as `solve` uses)."""
        return float(table_scale(self.table))


def resolve_form(form: str, n_agents: int) -> Literal["table", "samples"]:
    """The form a run with ``n_agents`` uses; a table that cannot hold them is refused in one line."""
    if form not in FORMS:
        raise ValueError(f"meta.form={form!r} is not allowed; expected one of {', '.join(FORMS)}")
    if form == "table" and n_agents > MAX_TABLE_AGENTS:
        raise ValueError(
            f"meta.form='table' holds at most {MAX_TABLE_AGENTS} agents (2^n payoffs per agent) and this env "
            f"has {n_agents}; use --meta.form samples (or auto)"
        )
    if form == "samples" or (form == "auto" and n_agents > MAX_TABLE_AGENTS):
        return "samples"
    return "table"


def as_meta_game(game: ArrayLike | TableMetaGame | SampleMetaGame) -> TableMetaGame | SampleMetaGame:
    """A `MetaGame`: forms pass through, payoff tensors are wrapped in `TableMetaGame`."""
    if isinstance(game, TableMetaGame | SampleMetaGame):
        return game
    return TableMetaGame(game)


def mean_game(games: Sequence[Float | SampleMetaGame]) -> Float | SampleMetaGame:
    """The game whose payoffs are the mean of the games' (the cross-fitted estimator's two folds): the mean
    tensor for tables, `SampleMetaGame.mean_of` (samples concatenated, shares divided) for samples."""
    if all(isinstance(g, SampleMetaGame) for g in games):
        return SampleMetaGame.mean_of([g for g in games if isinstance(g, SampleMetaGame)])
    tables = [np.asarray(g, dtype=np.float64) for g in games if not isinstance(g, SampleMetaGame)]
    if len(tables) != len(games) or not tables:
        raise ValueError("mean_game needs at least one game, all of one form")
    if len(tables) == 2:
        return 0.5 * (tables[0] + tables[1])  # what the cross-fitted estimator always computed
    return np.asarray(sum(tables[1:], tables[0]) / len(tables), dtype=np.float64)
