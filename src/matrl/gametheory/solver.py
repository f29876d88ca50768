"""The one entry point MATRL calls every iteration: solve the meta-game, never fail silently.

``solve(payoffs)`` validates the game, runs the requested solver, verifies its answer (every player's regret
at most ``rtol`` times the largest absolute payoff), selects one equilibrium if the solver found several, and
returns a `NashResult`. If the solver raises or its answer does not verify, the failure is logged (logger
``"matrl.gametheory"``), counted in the optional `SolverStats`, and the fallback solvers are tried in order;
if none verifies, the result is ``rho = 1`` for everybody ("keep current policies", always a safe step) with
``fallback=True`` and the reasons in ``failure``. Nothing is ever swallowed: ``NashResult.verified`` and
``NashResult.regrets`` always describe the returned profile.

Methods: ``exact`` (support enumeration, `support_enumeration`, default), ``cma`` (the paper's CMA-ES,
`cmaes`), ``replicator`` and ``fictitious_play`` (`iterative`). Selection rules: see `selection` (only
``exact`` finds several equilibria; the others return one and ignore the rule).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from matrl.gametheory.cmaes import cma_es
from matrl.gametheory.forms import TableMetaGame
from matrl.gametheory.games import as_game, num_players
from matrl.gametheory.iterative import fictitious_play, replicator_dynamics
from matrl.gametheory.multilinear import gain_table, regrets_at
from matrl.gametheory.sample_form import SampleMetaGame
from matrl.gametheory.selection import DEFAULT_SELECTION, SELECTIONS, select_equilibrium
from matrl.gametheory.support_enumeration import MAX_ALL_PLAYERS, MAX_EXACT_PLAYERS, enumerate_equilibria
from matrl.gametheory.twobytwo import equilibria_2x2_scalar

Float = NDArray[np.float64]

logger = logging.getLogger("matrl.gametheory")

METHODS: Final[tuple[str, ...]] = ("exact", "cma", "replicator", "fictitious_play")
#: What replaces a failed solver, in order; the primary method itself is skipped. Keep-current comes last.
DEFAULT_FALLBACKS: Final[tuple[str, ...]] = ("exact", "replicator")
KEEP_CURRENT: Final[str] = "keep_current"


@dataclass(frozen=True, eq=False)
class NashResult:
    """The meta-game solution used for one MATRL iteration.

    Attributes:
        profile: rho, shape ``(n,)``: ``rho_i`` is the probability that agent ``i`` keeps its current policy.
        regrets: each player's regret at ``profile``, in payoff units.
        nash_conv: sum of ``regrets``.
        verified: every regret is at most ``rtol`` times the largest absolute payoff.
        method: the solver that produced ``profile`` (``"keep_current"`` for the last-resort fallback).
        requested_method: the solver that was asked for.
        selection: the selection rule applied (meaningful for ``exact`` only).
        num_equilibria: distinct verified equilibria found by that solver (0 for the keep-current fallback).
        fallback: ``profile`` does not come from the requested method.
        failure: why the requested method (and any failed fallbacks) did not deliver, else ``None``.
    """

    profile: Float
    regrets: Float
    nash_conv: float
    verified: bool
    method: str
    requested_method: str
    selection: str
    num_equilibria: int
    fallback: bool
    failure: str | None


@dataclass
class SolverStats:
    """Counters a training loop keeps across iterations and logs (e.g. ``stats.as_dict()`` per epoch)."""

    calls: int = 0
    fallbacks: int = 0
    keep_current: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    methods: Counter[str] = field(default_factory=Counter)

    def record(self, result: NashResult) -> None:
        self.calls += 1
        self.methods[result.method] += 1
        self.fallbacks += int(result.fallback)
        self.keep_current += int(result.method == KEEP_CURRENT)

    def as_dict(self) -> dict[str, int]:
        out = {"calls": self.calls, "fallbacks": self.fallbacks, "keep_current": self.keep_current}
        out.update({f"failures/{name}": count for name, count in sorted(self.failures.items())})
        out.update({f"method/{name}": count for name, count in sorted(self.methods.items())})
        return out


class _LazyGenerator:
    """``np.random.default_rng(0)`` is made only if needed: it costs more than solving a 2x2 game."""

    def __init__(self, rng: np.random.Generator | None) -> None:
        self._rng = rng

    def get(self) -> np.random.Generator:
        if self._rng is None:
            self._rng = np.random.default_rng(0)
        return self._rng


_Solver = Callable[[Float, int, str, _LazyGenerator, float, float], tuple[Float, Float, int]]


class SolverFailure(RuntimeError):
    """A solver returned no profile that passes verification."""


def _validate(payoffs: ArrayLike, rtol: float, rng: object) -> Float:
    if not isinstance(rtol, int | float) or not np.isfinite(rtol) or rtol < 0:
        raise ValueError(f"rtol = {rtol!r} is not allowed; it must be a finite number >= 0")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng = {rng!r} is not allowed; pass a numpy Generator (np.random.default_rng(seed))"
        )
    return as_game(payoffs)


def _check_names(method: str, selection: str, fallbacks: Sequence[str]) -> None:
    for name, value, allowed in (("method", method, METHODS), ("selection", selection, SELECTIONS)):
        if value not in allowed:
            raise ValueError(f"{name} = {value!r} is not allowed; expected one of {', '.join(allowed)}")
    for name in fallbacks:
        if name not in METHODS:
            raise ValueError(f"fallback {name!r} is not allowed; expected any of {', '.join(METHODS)}")


def _regrets(game: Float, n: int, profiles: Float) -> Float:
    """Regrets in payoff units, same numbers as `games.regrets` (see `multilinear`)."""
    return regrets_at(gain_table(game, n), profiles)


def _exact(
    game: Float, n: int, selection: str, rng: _LazyGenerator, rtol: float, scale: float
) -> tuple[Float, Float, int]:
    if n == 1:  # a lone player: the better action, or both (and every mixture) if indifferent
        gain = float(game[0, 0] - game[0, 1])
        tol = rtol * scale
        lone = [(1.0, max(-gain, 0.0))] if gain >= -tol else []
        lone += [(0.0, max(gain, 0.0))] if gain <= tol else []
        data = np.array(lone[:1] if selection == "first" else lone, dtype=np.float64)
        profiles, regrets = data[:, :1], data[:, 1:]
    elif n == 2:  # scalar closed form: a few microseconds
        found = equilibria_2x2_scalar(game.reshape(-1).tolist(), rtol)
        if selection == "first":
            found = found[:1]
        data = np.array(found, dtype=np.float64).reshape(-1, 4)
        profiles, regrets = data[:, :2], data[:, 2:]
    else:
        first = selection == "first"
        if n > (MAX_EXACT_PLAYERS if first else MAX_ALL_PLAYERS):
            raise SolverFailure(
                f"{n} players: the exact solver finds all equilibria for up to {MAX_ALL_PLAYERS} players "
                f"(selection='first': up to {MAX_EXACT_PLAYERS})"
            )
        eq = enumerate_equilibria(game, first=first, rtol=rtol)
        profiles, regrets = eq.profiles, eq.regrets
    if profiles.shape[0] == 0:
        raise SolverFailure("no candidate passed verification")
    pick = select_equilibrium(profiles, game, selection, rng.get() if selection == "random" else None)
    return profiles[pick], regrets[pick], int(profiles.shape[0])


def _iterative(solver: Callable[[Float, np.random.Generator, float], Float]) -> _Solver:
    """Adapt a one-profile solver; the selection rule does not apply to it."""

    def run(
        game: Float, n: int, selection: str, rng: _LazyGenerator, rtol: float, scale: float
    ) -> tuple[Float, Float, int]:
        profile = np.asarray(solver(game, rng.get(), rtol), dtype=np.float64)
        return profile, _regrets(game, n, profile[None, :])[0], 1

    return run


_SOLVERS: Final[dict[str, _Solver]] = {
    "exact": _exact,
    "cma": _iterative(lambda game, rng, rtol: cma_es(game, rng, rtol=rtol)),
    "replicator": _iterative(lambda game, rng, rtol: replicator_dynamics(game, rng, rtol=rtol)),
    "fictitious_play": _iterative(lambda game, rng, rtol: fictitious_play(game, rng, rtol=rtol)),
}


def solve(
    payoffs: ArrayLike | TableMetaGame | SampleMetaGame,
    method: str = "exact",
    selection: str = DEFAULT_SELECTION,
    rng: np.random.Generator | None = None,
    *,
    rtol: float = 1e-9,
    fallbacks: Sequence[str] = DEFAULT_FALLBACKS,
    stats: SolverStats | None = None,
) -> NashResult:
    """Solve an n-player 2-action meta-game and return one verified equilibrium, or an explicit fallback.

    Args:
        payoffs: shape ``(n, 2, ..., 2)``, ``payoffs[i, a_1, ..., a_n]``; action 0 = keep the current policy.
            Or a meta-game form (`forms`): a `TableMetaGame` is solved as its tensor; a `SampleMetaGame` (any
            n) by `sample_solver.solve_samples`, whose own pure / mixed / fallback sequence replaces
            ``method`` and ``fallbacks`` (both still checked) and whose ``requested_method`` is ``"samples"``.
        method: ``"exact"``, ``"cma"``, ``"replicator"`` or ``"fictitious_play"``.
        selection: ``"closest_to_current"`` (default, see `selection` for why), ``"first"``, ``"max_welfare"``
            or ``"random"``.
        rng: seeded generator for ``random`` selection and the stochastic solvers; ``None`` means
            ``np.random.default_rng(0)`` (deterministic, never the global numpy state).
        rtol: regret tolerance relative to the largest absolute payoff.
        fallbacks: solvers tried in order when the requested one fails (itself skipped).
        stats: counters updated with this call.

    Raises:
        ValueError: non-finite payoffs, a wrong shape, or an unknown method / selection / bad argument.
    """
    if isinstance(payoffs, SampleMetaGame):
        from matrl.gametheory.sample_solver import solve_samples  # it builds on this module

        _check_names(method, selection, fallbacks)
        return solve_samples(payoffs, selection, rng, rtol=rtol, stats=stats)
    game = _validate(payoffs.table if isinstance(payoffs, TableMetaGame) else payoffs, rtol, rng)
    n = num_players(game)
    _check_names(method, selection, fallbacks)
    generator = _LazyGenerator(rng)
    scale = float(np.abs(game).max())
    reasons: list[str] = []
    for attempt in (method, *(f for f in fallbacks if f != method)):
        try:
            profile, regrets, count = _SOLVERS[attempt](game, n, selection, generator, rtol, scale)
            worst = float(regrets.max(initial=0.0))
            if not worst <= rtol * scale:
                raise SolverFailure(f"regret {worst:.3g} exceeds {rtol:g} x payoff scale {scale:.3g}")
        except (SolverFailure, ArithmeticError, np.linalg.LinAlgError, ValueError) as error:
            reasons.append(f"{attempt}: {error}")
            if stats is not None:
                stats.failures[attempt] += 1
            logger.warning("Nash solver %r failed on a %d-player meta-game: %s", attempt, n, error)
            continue
        result = NashResult(
            profile=profile,
            regrets=regrets,
            nash_conv=float(regrets.sum()),
            verified=True,
            method=attempt,
            requested_method=method,
            selection=selection,
            num_equilibria=count,
            fallback=attempt != method,
            failure="; ".join(reasons) or None,
        )
        if result.fallback:
            logger.warning("Nash solver fell back from %r to %r", method, attempt)
        break
    else:
        profile = np.ones(n)
        regrets = _regrets(game, n, profile[None, :])[0]
        worst = float(regrets.max(initial=0.0))
        result = NashResult(
            profile=profile,
            regrets=regrets,
            nash_conv=float(regrets.sum()),
            verified=worst <= rtol * scale,
            method=KEEP_CURRENT,
            requested_method=method,
            selection=selection,
            num_equilibria=0,
            fallback=True,
            failure="; ".join(reasons),
        )
        logger.warning("all Nash solvers failed (%s); keeping the current policies (rho = 1)", result.failure)
    result.profile.flags.writeable = False
    result.regrets.flags.writeable = False
    if stats is not None:
        stats.record(result)
    return result
