"""A verified equilibrium of the meta-game in sample form (`sample_form.SampleMetaGame`), for any n.

No table means no support enumeration, so the solver looks for one equilibrium where MATRL needs it and proves
it by exact regrets on the same samples (every regret at most the tolerance):

1. **Pure profiles by best-response dynamics** from all-keep (rho = 1) and from all-switch (rho = 0): agents
   whose regret exceeds the tolerance flip, all at once in rounds until a profile repeats, then one at a time
   (largest regret first), at most 48 steps each. Each step is one O(n B) evaluation; at a pure profile
   agent i's regret is |d_i| if it plays its worse action, else 0: exact, nothing approximated.
2. **Subgames** when neither end point verifies: best responses usually leave a few agents cycling (matching
   pennies among 2-3 of them). Those agents' game, the others fixed, is solved on its own: exactly from its
   2^k table up to 8 agents (support enumeration, `solver.solve`), by steps 1 and 3 up to 32; agents that the
   subgame's solution makes unstable join it, until the whole game verifies (`subgame_profiles`).
3. **A mixed equilibrium of the whole game** otherwise: the logit (quantal response) homotopy traced from
   rho = 1/2 towards lam = infinity (`trace_logit`), then semismooth Newton on the natural residual
   rho - clip(rho + d(rho) / scale, 0, 1) from the homotopy's last point, the uniform profile and
   ``restarts`` seeded random ones (`newton_natural_map`); every end point is polished on its apparent
   support (agents near 0 or 1 made pure, Newton on the mixers' indifference equations d_M = 0).
   Steps 2 and 3 share one deterministic budget of work (`MAX_JACOBIANS` Jacobians of the whole game's
   gains, a few seconds at n = 128 and B = 4000), so a solve always ends.
4. **An explicit fallback** if nothing verifies: the profile with the lowest NashConv among every candidate,
   ``fallback=True``, ``verified=False``, the NashConv it reached in ``failure``, and a warning on the logger
   ``"matrl.gametheory"``. Never silent.

Tolerance: every regret at most ``rtol`` x `SampleMetaGame.payoff_scale` (the largest |payoff| at the pure
profiles next to all-keep and all-switch). That is a lower bound on the table's scale (the largest |payoff|
over all 2^n profiles), so for n <= 8 a profile verified here also verifies in the table at the same rtol.

Selection mirrors `selection` on the equilibria this solver reaches (it cannot enumerate all of them): the
verified candidates of the first step that yields any (the two best-response end points, or the subgames
settled from each) are ranked by the rule: ``closest_to_current`` (default) the fewest switches, sum(1 -
rho), ties to the larger welfare; ``first`` the one reached from all-keep (the table's "pure profiles first,
from all keep on"); ``max_welfare`` the larger welfare; ``random`` one of them with the caller's generator.
Subgames of up to 6 agents choose among all their equilibria by the same rule. Step 3 returns the first
profile that verifies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import NDArray

from matrl.gametheory.sample_form import SampleMetaGame
from matrl.gametheory.selection import DEFAULT_SELECTION, SELECTIONS, select_equilibrium
from matrl.gametheory.solver import NashResult, SolverStats, logger, solve
from matrl.gametheory.support_enumeration import MAX_ALL_PLAYERS, MAX_EXACT_PLAYERS

Float = NDArray[np.float64]

#: ``requested_method`` of every result of this solver, and its SolverStats failure key.
SAMPLES: str = "samples"
PURE: str = "best_response"
SUBGAME: str = "subgame"
LOGIT: str = "logit_homotopy"
NEWTON: str = "newton"
LOWEST: str = "lowest_nash_conv"

_POLISH_THRESHOLDS = (1e-2, 1e-4, 1e-7)
#: Largest subgame of unstable agents settled on its own (`subgame_profiles`).
MAX_SUBGAME_AGENTS = 32
#: What one solve may spend on subgames and mixed searches: the work of this many Jacobians of the whole
#: game's gains (each O(n^2 B): about 20 ms at n = 128, B = 4000), and at least `MIN_WORK` (about a second).
#: Work is counted in multiply-adds, with `CALL_WORK` more for each evaluation (numpy's overhead per call).
MAX_JACOBIANS = 50
MIN_WORK = 2e9
CALL_WORK = 1e6


class _Budget:
    """Work (multiply-adds) the subgames and mixed searches of one solve may still spend on Jacobians of the
    gains (k^2 B for k agents): every Newton or continuation step needs one, so this bounds the time."""

    def __init__(self, work: float) -> None:
        self.left = work

    def take(self, game: SampleMetaGame, agents: int | None = None) -> bool:
        """Pay for one Jacobian of ``game`` (of ``agents`` of its agents only); False once spent."""
        k = game.n_agents if agents is None else agents
        self.left -= (game.n_agents + k * k) * game.num_samples + CALL_WORK
        return self.left >= 0

    def gains(self, game: SampleMetaGame, rho: Float) -> Float:
        """``game.gains(rho)``, paid for (n B)."""
        self.left -= game.n_agents * game.num_samples + CALL_WORK
        return game.gains(rho)

    @classmethod
    def of(cls, game: SampleMetaGame, jacobians: float = MAX_JACOBIANS) -> _Budget:
        n = game.n_agents
        return cls(max(jacobians * ((n + n * n) * game.num_samples + CALL_WORK), MIN_WORK))


class _Exhausted(Exception):
    """The budget ran out inside the logit continuation."""


def best_response_dynamics(
    game: SampleMetaGame, start: Float, tol: float, max_flips: int | None = None
) -> tuple[Float, Float]:
    """The pure profile where best responses from ``start`` stop, and its regrets.

    Only agents whose regret exceeds ``tol`` move. First in simultaneous rounds (every such agent flips: a
    handful of O(n B) evaluations where one flip at a time would take n of them), until no regret exceeds
    ``tol`` or a profile repeats; then one agent at a time, the largest regret first (lowest index on ties),
    until no regret exceeds ``tol`` or a profile repeats. Each phase stops after ``max_flips`` (default 48)
    steps: cycles that long are left to the subgames. The caller verifies.
    """
    profile = np.asarray(start, dtype=np.float64).copy()
    limit = 48 if max_flips is None else max_flips
    regrets = game.regrets(profile)
    seen = {profile.tobytes()}
    for _ in range(limit):
        unstable = regrets > tol
        if not unstable.any():
            return profile, regrets
        following = np.where(unstable, 1.0 - profile, profile)
        if following.tobytes() in seen:
            break
        seen.add(following.tobytes())
        profile, regrets = following, game.regrets(following)
    seen = {profile.tobytes()}
    for _ in range(limit):
        worst = int(np.argmax(regrets))
        if not regrets[worst] > tol:
            break
        profile[worst] = 1.0 - profile[worst]
        regrets = game.regrets(profile)
        if profile.tobytes() in seen:
            break
        seen.add(profile.tobytes())
    return profile, regrets


def _natural_residual(game: SampleMetaGame, rho: Float, unit: float, budget: _Budget) -> tuple[Float, Float]:
    gains = budget.gains(game, rho) / unit
    return rho - np.clip(rho + gains, 0.0, 1.0), gains


def newton_natural_map(
    game: SampleMetaGame, start: Float, unit: float, steps: int = 50, budget: _Budget | None = None
) -> Float:
    """Semismooth Newton on R(rho) = rho - clip(rho + d(rho) / unit, 0, 1), from ``start``; returns the
    profile with the smallest |R| reached. Rows of clamped agents are the identity (they jump to their pure
    best response), rows of interior ones are -(dd_i / drho) / unit; singular systems take the least-squares
    step. Backtracks on |R| (halving, at most 8 times) and stops when |R| < 1e-15, no step helps, or the
    budget is spent."""
    budget = _Budget.of(game) if budget is None else budget
    rho = np.clip(np.asarray(start, dtype=np.float64), 0.0, 1.0)
    residual, gains = _natural_residual(game, rho, unit, budget)
    norm = float(np.linalg.norm(residual))
    n = rho.shape[0]
    for _ in range(steps):
        if norm < 1e-15:
            break
        interior = (rho + gains > 0.0) & (rho + gains < 1.0)
        matrix = np.eye(n)
        if interior.any():
            if not budget.take(game):
                break
            matrix[interior] = -game.gain_jacobian(rho)[interior] / unit
        step = np.linalg.lstsq(matrix, -residual, rcond=None)[0]
        size = 1.0
        for _ in range(9):
            candidate = np.clip(rho + size * step, 0.0, 1.0)
            cand_residual, cand_gains = _natural_residual(game, candidate, unit, budget)
            cand_norm = float(np.linalg.norm(cand_residual))
            if cand_norm < (1.0 - 1e-4 * size) * norm:
                break
            size *= 0.5
        else:
            break
        rho, residual, gains, norm = candidate, cand_residual, cand_gains, cand_norm
    return rho


def polish_on_support(
    game: SampleMetaGame, profile: Float, unit: float, steps: int = 12, budget: _Budget | None = None
) -> list[Float]:
    """Variants of ``profile`` with the agents within each threshold of 0 / 1 made pure and the others' gains
    solved to zero by Newton (the support's indifference equations); the profile itself comes first."""
    budget = _Budget.of(game) if budget is None else budget
    out = [np.clip(profile, 0.0, 1.0)]
    for threshold in _POLISH_THRESHOLDS:
        mixing = (profile > threshold) & (profile < 1.0 - threshold)
        mixers = np.flatnonzero(mixing)
        rho = np.where(mixing, profile, np.where(profile >= 0.5, 1.0, 0.0))
        for _ in range(steps if mixers.size else 0):
            if not budget.take(game, mixers.size):
                break
            gains = budget.gains(game, rho)[mixers] / unit
            jac = game.gain_jacobian(rho, mixers) / unit
            step = np.linalg.lstsq(jac, -gains, rcond=None)[0]
            rho[mixers] = np.clip(rho[mixers] + step, 0.0, 1.0)
            if np.abs(step).max(initial=0.0) < 1e-15:
                break
        out.append(rho)
    return out


def subgame_profiles(
    game: SampleMetaGame,
    end: Float,
    tol: float,
    selection: str,
    rng: np.random.Generator | None,
    restarts: int = 4,
    newton_steps: int = 50,
    budget: _Budget | None = None,
) -> Iterator[Float]:
    """Profiles that settle the agents best-response dynamics left unstable at the pure profile ``end``.

    The agents whose regret exceeds ``tol`` form a subgame, the others fixed at ``end``. Up to 8 agents its
    payoff table (2^k entries) is solved exactly (`solver.solve`; every equilibrium up to 6 agents, so the
    selection rule applies); up to `MAX_SUBGAME_AGENTS` its sample form is searched as the whole game is
    (pure, then mixed; no nested subgames). Any other agent whose regret then exceeds ``tol`` joins the
    subgame, until nobody's does (a Nash equilibrium of the whole game: the other agents already
    best-respond) or the subgame outgrows the limit. This settles the small cycles of a few agents that keep
    a large game from having a pure equilibrium, at the cost of a small game each.
    """
    budget = _Budget.of(game) if budget is None else budget
    profile = end.copy()
    agents = set(np.flatnonzero(game.regrets(profile) > tol).tolist())
    while agents and len(agents) <= MAX_SUBGAME_AGENTS and budget.left > 0:
        members = sorted(agents)
        restricted = game.restricted(profile, members)
        sub_profile: Float | None
        if len(members) <= MAX_EXACT_PLAYERS:
            rule = selection if len(members) <= MAX_ALL_PLAYERS else "first"
            exact = solve(restricted.table(), "exact", rule, rng, fallbacks=())
            sub_profile = exact.profile if exact.verified else None
        else:
            chosen, _, _ = _search(restricted, tol, selection, rng, restarts, newton_steps, False, budget)
            sub_profile = None if chosen is None else chosen[0]
        if sub_profile is None:
            return
        profile[members] = sub_profile
        yield profile.copy()
        unstable = set(np.flatnonzero(game.regrets(profile) > tol).tolist())
        if not unstable - agents:  # verified, or the subgame's answer is not precise enough for the game
            return
        agents |= unstable


def _expit(x: Float) -> Float:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)


def trace_logit(
    game: SampleMetaGame,
    unit: float,
    budget: _Budget | None = None,
    lam_max: float = 1e10,
    max_steps: int = 500,
) -> Iterator[Float]:
    """Profiles along the logit equilibrium (quantal response) branch, from lam = 0 to ``lam_max``.

    The branch solves x = lam d(sigmoid(x)) / unit (x = logit rho) and starts at rho = 1/2; as lam grows it
    approaches a Nash equilibrium in generic games (McKelvey and Palfrey's logit QRE, traced as gambit's
    ``logit`` does). Continuation along the curve in (x, lam): an Euler predictor along the tangent (the null
    vector of the Jacobian), chord Gauss-Newton correctors (one Jacobian per step); a step is accepted only
    if the corrector converges near the prediction and the tangent turns by less than about 25 degrees (else
    it is halved: a long step across a fold would land on the branch's way back); easy steps grow 1.5x.
    Yields rho each time lam passes 1, 10, 100, ... and stops at ``lam_max``, after ``max_steps``, at a step
    that cannot be corrected, or when the
    budget of Jacobians is spent.
    """
    n = game.n_agents
    budget = _Budget.of(game) if budget is None else budget

    def residual(y: Float) -> Float:
        if budget.left <= 0:
            raise _Exhausted
        return np.asarray(y[:n] - y[n] * budget.gains(game, _expit(y[:n])) / unit, dtype=np.float64)

    def jacobian(y: Float) -> Float:
        if not budget.take(game):
            raise _Exhausted
        rho = _expit(y[:n])
        slope = game.gain_jacobian(rho) * (rho * (1.0 - rho))[None, :] / unit
        return np.concatenate([np.eye(n) - y[n] * slope, -game.gains(rho)[:, None] / unit], axis=1)

    def tangent(jac: Float, previous: Float | None) -> Float:
        t = np.linalg.qr(jac.T, mode="complete")[0][:, -1]
        reference = -1.0 if previous is None and t[n] < 0 else 1.0
        if previous is not None and t @ previous < 0:
            reference = -1.0
        return np.asarray(reference * t, dtype=np.float64)

    try:
        y = np.zeros(n + 1)
        jac = jacobian(y)
        direction = tangent(jac, None)
        step, mark = 0.5, 1.0
        for _ in range(max_steps):
            for _ in range(30):
                z, corrections, converged = _correct(residual, jac, y + step * direction)
                if converged and z[n] > 0.0 and np.linalg.norm(z - y) <= 2.0 * step:
                    new_jac = jacobian(z)
                    new_direction = tangent(new_jac, direction)
                    if new_direction @ direction >= 0.9:  # no jump across a fold onto the branch's way back
                        break
                step *= 0.5
            else:
                return
            y, direction, jac = z, new_direction, new_jac
            if corrections <= 3:
                step *= 1.5
            while y[n] >= mark:
                yield _expit(y[:n])
                mark *= 10.0
            if y[n] > lam_max:
                return
    except _Exhausted:
        return


def _correct(
    residual: Callable[[Float], Float], jac: Float, z: Float, iterations: int = 8
) -> tuple[Float, int, bool]:
    """Chord Gauss-Newton back onto residual = 0 with the Jacobian ``jac`` of the last point on the branch
    (minimum-norm steps, one least-squares factorisation): (point, corrections, converged)."""
    n = z.shape[0] - 1
    pinv = np.linalg.pinv(jac)
    for corrections in range(iterations + 1):
        r = residual(z)
        if np.abs(r).max() <= 1e-10 * max(1.0, float(np.abs(z[:n]).max())):
            return z, corrections, True
        if corrections < iterations:
            z = z - pinv @ r
    return z, iterations, False


def _mixed_candidates(
    game: SampleMetaGame,
    unit: float,
    rng: np.random.Generator | None,
    restarts: int,
    newton_steps: int,
    budget: _Budget,
) -> Iterator[tuple[Float, str]]:
    """Profiles to verify, in order: the logit branch's (polished), then the ends of Newton's method
    (polished) from the branch's last profile, the uniform profile and ``restarts`` random interior ones;
    all of them within the solve's budget."""
    n = game.n_agents
    starts = [np.full(n, 0.5)]
    for rho in trace_logit(game, unit, budget):
        starts[0] = rho
        for profile in polish_on_support(game, rho, unit, budget=budget):
            yield profile, LOGIT
    generator = np.random.default_rng(0) if rng is None else rng
    starts += [np.full(n, 0.5), *generator.uniform(0.05, 0.95, size=(restarts, n))]
    for start in starts:
        if budget.left <= 0:
            return
        end = newton_natural_map(game, start, unit, newton_steps, budget)
        for profile in polish_on_support(game, end, unit, budget=budget):
            yield profile, NEWTON


_Candidate = tuple[Float, Float, str]  # (profile, regrets, method)


def _search(
    game: SampleMetaGame,
    tol: float,
    selection: str,
    rng: np.random.Generator | None,
    restarts: int,
    newton_steps: int,
    subgames: bool,
    budget: _Budget | None = None,
) -> tuple[_Candidate | None, int, list[_Candidate]]:
    """Steps 1-3 of the module: (the selected verified candidate or None, how many verified, every one)."""
    budget = _Budget.of(game) if budget is None else budget
    n = game.n_agents
    scale = game.payoff_scale()
    unit = scale if scale > 0.0 else 1.0
    candidates: list[_Candidate] = []
    for start in (1.0, 0.0):  # all-keep first: the table's enumeration order
        profile, regrets = best_response_dynamics(game, np.full(n, start), tol)
        if not any(np.array_equal(profile, c[0]) for c in candidates):
            candidates.append((profile, regrets, PURE))
    verified = [c for c in candidates if float(c[1].max(initial=0.0)) <= tol]
    if not verified and subgames:
        for end in [c[0] for c in candidates]:
            for profile in subgame_profiles(game, end, tol, selection, rng, restarts, newton_steps, budget):
                regrets = game.regrets(profile)
                candidates.append((profile, regrets, SUBGAME))
                if float(regrets.max(initial=0.0)) <= tol and not any(
                    np.array_equal(profile, c[0]) for c in verified
                ):
                    verified.append(candidates[-1])
    if not verified:
        for profile, method in _mixed_candidates(game, unit, rng, restarts, newton_steps, budget):
            regrets = game.regrets(profile)
            candidates.append((profile, regrets, method))
            if float(regrets.max(initial=0.0)) <= tol:
                verified = [candidates[-1]]
                break
    if not verified:
        return None, 0, candidates
    pick = 0
    if len(verified) > 1:
        pick = select_equilibrium(np.array([c[0] for c in verified]), game, selection, rng)
    return verified[pick], len(verified), candidates


def solve_samples(
    game: SampleMetaGame,
    selection: str = DEFAULT_SELECTION,
    rng: np.random.Generator | None = None,
    *,
    rtol: float = 1e-9,
    restarts: int = 4,
    newton_steps: int = 50,
    max_jacobians: float = MAX_JACOBIANS,
    stats: SolverStats | None = None,
) -> NashResult:
    """One verified equilibrium of the sample-form meta-game, or an explicit fallback (see the module).

    Args:
        game: the meta-game's samples.
        selection: ``closest_to_current``, ``first``, ``max_welfare`` or ``random``, among the verified
            candidates (see the module).
        rng: seeded generator for the random restarts and ``random`` selection; None: ``default_rng(0)``.
        rtol: regret tolerance relative to `SampleMetaGame.payoff_scale`.
        restarts: random interior starts of Newton's method, besides the uniform profile.
        newton_steps: Newton iterations per start.
        max_jacobians: the work subgames and mixed searches may spend, in Jacobians of the whole game's
            gains (`MAX_JACOBIANS`; deterministic, so equal seeds give equal runs).
        stats: counters updated with this call.
    """
    if not isinstance(game, SampleMetaGame):
        raise ValueError(f"solve_samples takes a SampleMetaGame, not {type(game).__name__}")
    if selection not in SELECTIONS:
        raise ValueError(f"selection = {selection!r} is not allowed; expected one of {', '.join(SELECTIONS)}")
    if not isinstance(rtol, int | float) or not np.isfinite(rtol) or rtol < 0:
        raise ValueError(f"rtol = {rtol!r} is not allowed; it must be a finite number >= 0")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng = {rng!r} is not allowed; pass a numpy Generator (np.random.default_rng(seed))"
        )
    scale = game.payoff_scale()
    budget = _Budget.of(game, max_jacobians)
    chosen, count, candidates = _search(
        game, rtol * scale, selection, rng, restarts, newton_steps, True, budget
    )
    if chosen is not None:
        profile, regrets, method = chosen
        failure = None
    else:
        nash_convs = [float(c[1].sum()) for c in candidates]
        profile, regrets, _ = candidates[int(np.argmin(nash_convs))]
        method = LOWEST
        failure = (
            f"samples: no profile of the {game.n_agents}-agent sample-form meta-game verified (every regret "
            f"<= {rtol:g} x payoff scale {scale:.3g}); lowest NashConv reached {min(nash_convs):.3g}, "
            f"largest regret {float(regrets.max(initial=0.0)):.3g}"
        )
        if stats is not None:
            stats.failures[SAMPLES] += 1
        logger.warning("%s; using the profile with the lowest NashConv", failure)
    result = NashResult(
        profile=profile.copy(),
        regrets=regrets.copy(),
        nash_conv=float(regrets.sum()),
        verified=chosen is not None,
        method=method,
        requested_method=SAMPLES,
        selection=selection,
        num_equilibria=count,
        fallback=chosen is None,
        failure=failure,
    )
    result.profile.flags.writeable = False
    result.regrets.flags.writeable = False
    if stats is not None:
        stats.record(result)
    return result
