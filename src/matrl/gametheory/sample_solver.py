"""A verified equilibrium of the meta-game in sample form (`sample_form.SampleMetaGame`), for any n.

No table means no support enumeration, so the solver looks for one equilibrium where MATRL needs it and proves
it by exact regrets on the same samples:

1. **Pure profiles by best-response dynamics**, from all-keep (rho = 1) and from all-switch (rho = 0): while
   some agent's regret exceeds the tolerance, the agent with the largest regret flips to its better action
   (one O(n B) evaluation per flip; a revisited profile or ``4 n + 16`` flips end the run). At a pure profile
   the regret of agent i is |d_i| if it plays its worse action, else 0: exact, nothing is approximated.
2. **A mixed equilibrium when neither verifies**: a semismooth Newton method on the natural residual
   rho - clip(rho + d(rho) / scale, 0, 1) (zero exactly at the equilibria of a two-action game; the gains'
   Jacobian is one (n, B) x (B, n) product), with backtracking, from the uniform profile and ``restarts``
   seeded random interior profiles; each end point is then polished on its apparent support (agents near 0 or
   1 made pure, Newton on the mixers' indifference equations d_M = 0) and the best candidate is verified.
3. **An explicit fallback** otherwise: the profile with the lowest NashConv among every candidate (the two
   best-response end points included), ``fallback=True``, ``verified=False``, the NashConv it reached in
   ``failure``, and a warning on the logger ``"matrl.gametheory"``. Never silent.

Tolerance: every regret at most ``rtol`` x `SampleMetaGame.payoff_scale` (the largest |payoff| next to
all-keep and all-switch, a lower bound on the table's scale: for n <= 8 a profile verified here also verifies
in the table).

Selection, mirroring `selection` on the equilibria this solver reaches (it cannot enumerate all of them):
``closest_to_current`` (default) picks, among the verified pure end points, the one with the fewest
switches (ties: larger welfare), and the dynamics from all-keep move as few agents as they must; ``first``
takes the one reached from all-keep if it verifies (the table's "pure profiles first, from all keep on");
``max_welfare`` the larger welfare; ``random`` one of them with the caller's generator. A mixed equilibrium
is searched only when no pure one verifies, and the first verified one is returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import NDArray

from matrl.gametheory.sample_form import SampleMetaGame
from matrl.gametheory.selection import DEFAULT_SELECTION, SELECTIONS, select_equilibrium
from matrl.gametheory.solver import NashResult, SolverStats, logger

Float = NDArray[np.float64]

#: ``requested_method`` of every result of this solver, and its SolverStats failure key.
SAMPLES: str = "samples"
PURE: str = "best_response"
LOGIT: str = "logit_homotopy"
NEWTON: str = "newton"
LOWEST: str = "lowest_nash_conv"

_POLISH_THRESHOLDS = (1e-2, 1e-4, 1e-7)


def best_response_dynamics(
    game: SampleMetaGame, start: Float, tol: float, max_flips: int | None = None
) -> tuple[Float, Float]:
    """The pure profile where one-at-a-time best responses from ``start`` stop, and its regrets.

    An agent flips only if its regret exceeds ``tol`` (the one with the largest regret first, lowest index
    on ties). Stops at a profile where no regret exceeds ``tol``, at a revisited profile, or after
    ``max_flips`` (default ``4 n + 16``) flips; the caller verifies.
    """
    n = game.n_agents
    profile = np.asarray(start, dtype=np.float64).copy()
    limit = 4 * n + 16 if max_flips is None else max_flips
    seen = {profile.tobytes()}
    regrets = game.regrets(profile)
    for _ in range(limit):
        worst = int(np.argmax(regrets))
        if not regrets[worst] > tol:
            break
        profile[worst] = 1.0 - profile[worst]
        key = profile.tobytes()
        regrets = game.regrets(profile)
        if key in seen:
            break
        seen.add(key)
    return profile, regrets


def _natural_residual(game: SampleMetaGame, rho: Float, unit: float) -> tuple[Float, Float]:
    gains = game.gains(rho) / unit
    return rho - np.clip(rho + gains, 0.0, 1.0), gains


def newton_natural_map(game: SampleMetaGame, start: Float, unit: float, steps: int = 50) -> Float:
    """Semismooth Newton on R(rho) = rho - clip(rho + d(rho) / unit, 0, 1), from ``start``; returns the
    profile with the smallest |R| reached. Rows of clamped agents are the identity (they jump to their pure
    best response), rows of interior ones are -(dd_i / drho) / unit; singular systems take the least-squares
    step. Backtracks on |R| (halving, at most 8 times) and stops when |R| < 1e-15 or no step helps."""
    rho = np.clip(np.asarray(start, dtype=np.float64), 0.0, 1.0)
    residual, gains = _natural_residual(game, rho, unit)
    norm = float(np.linalg.norm(residual))
    n = rho.shape[0]
    for _ in range(steps):
        if norm < 1e-15:
            break
        interior = (rho + gains > 0.0) & (rho + gains < 1.0)
        matrix = np.eye(n)
        if interior.any():
            matrix[interior] = -game.gain_jacobian(rho)[interior] / unit
        step = np.linalg.lstsq(matrix, -residual, rcond=None)[0]
        size = 1.0
        for _ in range(9):
            candidate = np.clip(rho + size * step, 0.0, 1.0)
            cand_residual, cand_gains = _natural_residual(game, candidate, unit)
            cand_norm = float(np.linalg.norm(cand_residual))
            if cand_norm < (1.0 - 1e-4 * size) * norm:
                break
            size *= 0.5
        else:
            break
        rho, residual, gains, norm = candidate, cand_residual, cand_gains, cand_norm
    return rho


def polish_on_support(game: SampleMetaGame, profile: Float, unit: float, steps: int = 12) -> list[Float]:
    """Variants of ``profile`` with the agents within each threshold of 0 / 1 made pure and the others' gains
    solved to zero by Newton (the support's indifference equations); the profile itself comes first."""
    out = [np.clip(profile, 0.0, 1.0)]
    for threshold in _POLISH_THRESHOLDS:
        mixing = (profile > threshold) & (profile < 1.0 - threshold)
        rho = np.where(mixing, profile, np.where(profile >= 0.5, 1.0, 0.0))
        for _ in range(steps if mixing.any() else 0):
            gains = game.gains(rho)[mixing] / unit
            jac = game.gain_jacobian(rho)[np.ix_(mixing, mixing)] / unit
            step = np.linalg.lstsq(jac, -gains, rcond=None)[0]
            rho[mixing] = np.clip(rho[mixing] + step, 0.0, 1.0)
            if np.abs(step).max(initial=0.0) < 1e-15:
                break
        out.append(rho)
    return out


def _expit(x: Float) -> Float:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)


def trace_logit(
    game: SampleMetaGame, unit: float, lam_max: float = 1e10, max_steps: int = 500
) -> Iterator[Float]:
    """Profiles along the logit equilibrium (quantal response) branch, from lam = 0 to ``lam_max``.

    The branch solves x = lam d(sigmoid(x)) / unit (x = logit rho) and starts at rho = 1/2; as lam grows it
    approaches a Nash equilibrium in generic games (McKelvey and Palfrey's logit QRE, traced as gambit's
    ``logit`` does). Pseudo-arclength continuation in (x, lam): an Euler predictor along the tangent (the null
    vector of the Jacobian), Gauss-Newton correctors, the step doubled after easy corrections and halved
    after failed ones. Yields rho each time lam passes 1, 10, 100, ... and stops where the branch ends
    (lam_max, max_steps, or a step that cannot be corrected).
    """
    n = game.n_agents

    def residual(y: Float) -> Float:
        return np.asarray(y[:n] - y[n] * game.gains(_expit(y[:n])) / unit, dtype=np.float64)

    def jacobian(y: Float) -> Float:
        rho = _expit(y[:n])
        slope = game.gain_jacobian(rho) * (rho * (1.0 - rho))[None, :] / unit
        return np.concatenate([np.eye(n) - y[n] * slope, -game.gains(rho)[:, None] / unit], axis=1)

    def tangent(jac: Float, previous: Float | None) -> Float:
        t = np.linalg.qr(jac.T, mode="complete")[0][:, -1]
        reference = -1.0 if previous is None and t[n] < 0 else 1.0
        if previous is not None and t @ previous < 0:
            reference = -1.0
        return np.asarray(reference * t, dtype=np.float64)

    y = np.zeros(n + 1)
    direction = tangent(jacobian(y), None)
    step, mark = 0.5, 1.0
    for _ in range(max_steps):
        for _ in range(30):
            z, corrections, converged = _correct(residual, jacobian, y + step * direction)
            if converged and z[n] > 0.0 and np.linalg.norm(z - y) <= 2.0 * step:
                new_direction = tangent(jacobian(z), direction)
                if new_direction @ direction >= 0.9:  # no jump across a fold onto the branch's way back
                    break
            step *= 0.5
        else:
            return
        y, direction = z, new_direction
        if corrections <= 2:
            step *= 1.5
        while y[n] >= mark:
            yield _expit(y[:n])
            mark *= 10.0
        if y[n] > lam_max:
            return


def _correct(
    residual: Callable[[Float], Float], jacobian: Callable[[Float], Float], z: Float, iterations: int = 6
) -> tuple[Float, int, bool]:
    """Gauss-Newton (minimum-norm steps) back onto residual = 0: (point, corrections, converged)."""
    n = z.shape[0] - 1
    for corrections in range(iterations + 1):
        r = residual(z)
        if np.abs(r).max() <= 1e-10 * max(1.0, float(np.abs(z[:n]).max())):
            return z, corrections, True
        if corrections < iterations:
            z = z + np.linalg.lstsq(jacobian(z), -r, rcond=None)[0]
    return z, iterations, False


def _mixed_candidates(
    game: SampleMetaGame, unit: float, rng: np.random.Generator | None, restarts: int, newton_steps: int
) -> Iterator[tuple[Float, str]]:
    """Profiles to verify, in order: the logit branch's (polished), then the ends of Newton's method
    (polished) from the branch's last profile, the uniform profile and ``restarts`` random interior ones."""
    n = game.n_agents
    starts = [np.full(n, 0.5)]
    for rho in trace_logit(game, unit):
        starts[0] = rho
        for profile in polish_on_support(game, rho, unit):
            yield profile, LOGIT
    generator = np.random.default_rng(0) if rng is None else rng
    starts += [np.full(n, 0.5), *generator.uniform(0.05, 0.95, size=(restarts, n))]
    for start in starts:
        for profile in polish_on_support(game, newton_natural_map(game, start, unit, newton_steps), unit):
            yield profile, NEWTON


def solve_samples(
    game: SampleMetaGame,
    selection: str = DEFAULT_SELECTION,
    rng: np.random.Generator | None = None,
    *,
    rtol: float = 1e-9,
    restarts: int = 4,
    newton_steps: int = 50,
    stats: SolverStats | None = None,
) -> NashResult:
    """One verified equilibrium of the sample-form meta-game, or an explicit fallback (see the module).

    Args:
        game: the meta-game's samples.
        selection: ``closest_to_current``, ``first``, ``max_welfare`` or ``random``, among the verified pure
            end points (see the module).
        rng: seeded generator for the random restarts and ``random`` selection; None: ``default_rng(0)``.
        rtol: regret tolerance relative to `SampleMetaGame.payoff_scale`.
        restarts: random interior starts of the mixed search, besides the uniform profile.
        newton_steps: Newton iterations per start.
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
    n = game.n_agents
    scale = game.payoff_scale()
    tol = rtol * scale
    unit = scale if scale > 0.0 else 1.0
    candidates: list[tuple[Float, Float, str]] = []  # (profile, regrets, method)
    for start in (1.0, 0.0):  # all-keep first: the table's enumeration order
        profile, regrets = best_response_dynamics(game, np.full(n, start), tol)
        if not any(np.array_equal(profile, c[0]) for c in candidates):
            candidates.append((profile, regrets, PURE))
    verified = [c for c in candidates if float(c[1].max(initial=0.0)) <= tol]
    if not verified:
        for profile, method in _mixed_candidates(game, unit, rng, restarts, newton_steps):
            regrets = game.regrets(profile)
            candidates.append((profile, regrets, method))
            if float(regrets.max(initial=0.0)) <= tol:
                verified = [candidates[-1]]
                break
    if verified:
        profiles = np.array([c[0] for c in verified])
        pick = 0 if len(verified) == 1 else select_equilibrium(profiles, game, selection, rng)
        profile, regrets, method = verified[pick]
        result = NashResult(
            profile=profile,
            regrets=regrets,
            nash_conv=float(regrets.sum()),
            verified=True,
            method=method,
            requested_method=SAMPLES,
            selection=selection,
            num_equilibria=len(verified),
            fallback=False,
            failure=None,
        )
    else:
        nash_convs = [float(c[1].sum()) for c in candidates]
        profile, regrets, _ = candidates[int(np.argmin(nash_convs))]
        failure = (
            f"samples: no profile of the {n}-agent sample-form meta-game verified (every regret <= "
            f"{rtol:g} x payoff scale {scale:.3g}); lowest NashConv reached {min(nash_convs):.3g}, "
            f"largest regret {float(regrets.max(initial=0.0)):.3g}"
        )
        result = NashResult(
            profile=profile,
            regrets=regrets,
            nash_conv=float(regrets.sum()),
            verified=False,
            method=LOWEST,
            requested_method=SAMPLES,
            selection=selection,
            num_equilibria=0,
            fallback=True,
            failure=failure,
        )
        if stats is not None:
            stats.failures[SAMPLES] += 1
        logger.warning("%s; using the profile with the lowest NashConv", failure)
    result.profile.flags.writeable = False
    result.regrets.flags.writeable = False
    if stats is not None:
        stats.record(result)
    return result
