"""Exact Nash equilibria of n-player 2-action games by support enumeration.

A *support* fixes, for every player, "plays action 0", "plays action 1" or "mixes". At an equilibrium each
mixing player's gain ``d_i`` (see `multilinear`) vanishes and each pure player's gain has the sign of its
action. Supports are enumerated by their number ``k`` of mixers, cheapest first, each level vectorised over
all its supports, so that the first equilibrium of most games costs one numpy pass over the ``2**n`` pure
profiles:

* ``k = 0``: all pure profiles at once, read straight from the gain table.
* ``k = 1``: the mixer's gain is a constant; it must be zero (the player is indifferent), and then any
  probability keeping the pure players content works: the mid-point of that interval is taken.
* ``k = 2``: each mixer's gain is linear in the other mixer's probability: closed form.
* ``k = 3``: elimination to a quadratic in one probability (`_three_mixers`).
* ``k >= 4``: the mixers' gains form a square multilinear system whose roots in the unit box are found by
  subdivision. A box is discarded when some gain has the same strict sign at all its vertices (exact: a
  multilinear function's range on a box is spanned by its vertex values) or a pure player is discontent at
  all of them. A box is *proven* to hold exactly one root by the Krawczyk interval-Newton test (Jacobian
  ranges are again exact vertex ranges; boxes are inflated by 5% so that roots on faces are not lost), and
  that root is polished by Newton's method. All regular roots are found, each once, with no polynomial
  elimination (ill-conditioned at high degree) and no random starts.

Degenerate supports (ties; only in non-generic games): a mixer whose gain is zero over the whole box is
indifferent whatever the others do; its probability is fixed at 0.5 and the smaller system is solved
recursively. A ``k = 3`` support whose quadratic vanishes identically holds a curve of solutions, sampled on
a grid. Boxes that cannot be proven (singular roots, continua) are resolved by Gauss-Newton from their
centres, and a support whose boxes keep multiplying is a continuum represented by three points. So continua
of equilibria are represented by some of their points, not enumerated.

Every candidate is verified: regret <= ``rtol`` times the game's largest absolute payoff. Games are first
divided by that scale, so payoffs of 1e-8 (MATRL's advantages) are solved as accurately as payoffs of 1.
If no candidate verifies (conceivable only in degenerate games whose equilibria all lie in continua that
the search misses), the game is perturbed by 1e-11 of its scale and re-solved: an equilibrium of the
perturbed game has regret at most 2e-11 of the scale in the original game, so it still verifies. For two
players the 2x2 closed form (`twobytwo`) is used, in plain floats. If every gain is zero (e.g. the all-zero
game) every profile is an equilibrium and the pure ones are returned without further search.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, product

import numpy as np
from numpy.typing import ArrayLike, NDArray

from matrl.gametheory.games import as_game, num_players
from matrl.gametheory.multilinear import (
    BoxOperators,
    bisect,
    box_operators,
    gain_table,
    newton,
    regrets_at,
    support_gather,
    value_and_jacobian,
)
from matrl.gametheory.twobytwo import equilibria_2x2_scalar

Float = NDArray[np.float64]
Index = NDArray[np.intp]

logger = logging.getLogger("matrl.gametheory")

#: Largest number of players for the first equilibrium (3**n supports; n = 8: about a millisecond) ...
MAX_EXACT_PLAYERS = 8
#: ... and for all of them (n = 6: 0.1-0.3 s, n = 7: several seconds, n = 8: about a minute).
MAX_ALL_PLAYERS = 6

# Tuning of the subdivision solver (the game is divided by its payoff scale first, so these are absolute).
_EXCLUDE_TOL = 64 * np.finfo(np.float64).eps  # sign-test margin: round-off of the interpolated vertex values
_INFLATE = 0.05  # the Krawczyk test runs on boxes inflated by this fraction of their width on each side
_GROUP_SIZE = 3  # axes bisected per step: fewer Python-level steps, larger numpy batches
_RESOLVE_WIDTH = 2.0**-10  # unproven boxes this small are resolved by Newton from their centre ...
_MIN_WIDTH = 2.0**-20  # ... and at this size whatever Newton gives is handed to verification
_CONTINUUM_TEST = 4  # a support with more than this times 2**k boxes is tested for a continuum (then doubled)
_BOX_CAP_PER_VERTEX = 64  # safety nets: more than this times 2**k boxes (generic games stay far below) ...
_CROWD_WIDTH = 2.0**-6  # ... or, once boxes are this small, more than _BOX_CAP boxes make a support a
_BOX_CAP = 512  # continuum, represented by a few of its points
_CURVE_SAMPLES = 16  # grid on which a curve of solutions (k = 3) is sampled
_DEDUP_ATOL = 1e-8  # profiles closer than this (max-norm) are one equilibrium
_PERTURBATION = (1e-11, 1e-10)  # relative sizes of the last-resort perturbations
_PERTURBATION_SEED = 20240611


@dataclass(frozen=True, eq=False)
class Equilibria:
    """Verified equilibria of one game, in enumeration order (pure profiles first, from "all keep" on).

    ``regrets`` are in the game's own units. ``perturbed`` tells that they were found through a slightly
    perturbed copy of a degenerate game (see the module docstring).
    """

    profiles: Float
    regrets: Float
    perturbed: bool = False

    def __len__(self) -> int:
        return int(self.profiles.shape[0])


@dataclass(frozen=True, eq=False)
class _Family:
    """All supports with ``k`` mixers of an ``n``-player game, as index tables (cached per ``(n, k)``)."""

    mixers: Index  # (S, k) which players mix
    base: Float  # (S, n) the profile with the pure players set and the mixers at 0
    gather: Index  # (S, n, 2**k) indices into the flat gain table
    sign: Float  # (S, n, 1)


@lru_cache(maxsize=64)
def _family(n: int, k: int) -> _Family:
    mixers, bases, gathers, signs = [], [], [], []
    for mix in combinations(range(n), k):
        pure = tuple(j for j in range(n) if j not in mix)
        actions = np.array(list(product((0, 1), repeat=n - k)), dtype=np.int8).reshape(1 << (n - k), n - k)
        gather, sign = support_gather(n, mix, pure, actions)
        base = np.zeros((actions.shape[0], n))
        base[:, list(pure)] = 1.0 - actions
        mixers.append(np.broadcast_to(np.asarray(mix, dtype=np.intp), (actions.shape[0], k)))
        bases.append(base)
        gathers.append(gather)
        signs.append(sign)
    return _Family(
        np.concatenate(mixers), np.concatenate(bases), np.concatenate(gathers), np.concatenate(signs)
    )


@lru_cache(maxsize=32)
def _pure(n: int) -> tuple[Float, Float]:
    """Pure profiles ``(2**n, n)`` as P(action 0), and the sign each gain must have there ``(n, 2**n)``."""
    actions = (np.arange(1 << n)[:, None] >> np.arange(n - 1, -1, -1)[None, :]) & 1
    return (1.0 - actions).astype(np.float64), np.where(actions.T == 0, 1.0, -1.0).astype(np.float64)


def _krawczyk(eqs: Float, ops: BoxOperators) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Krawczyk test on each inflated box: (exactly one root proven, no root proven), in local coordinates."""
    num, k = eqs.shape[0], ops.k
    flat = eqs.reshape(num * k, -1)
    ranges = (flat @ ops.slopes_inflated).reshape(num, k, k, -1)  # [box, equation, axis, vertex]
    j_min, j_max = ranges.min(axis=-1), ranges.max(axis=-1)
    j_mid = (flat @ ops.jacobian_centre).reshape(num, k, k)
    radius = 0.5 + ops.inflation
    with np.errstate(all="ignore"):
        try:
            inverse = np.linalg.inv(j_mid)
        except np.linalg.LinAlgError:
            det = np.linalg.det(j_mid)
            invertible = np.isfinite(det) & (det != 0.0)
            inverse = np.zeros_like(j_mid)
            inverse[invertible] = np.linalg.inv(j_mid[invertible])
        regular = np.all(np.isfinite(inverse), axis=(-2, -1))
        inverse[~regular] = 0.0
        contraction = np.abs(ops.eye - inverse @ (0.5 * (j_min + j_max))) + np.abs(inverse) @ (
            0.5 * (j_max - j_min)
        )
        spread = contraction.sum(axis=-1) * radius
        shift = np.abs(np.einsum("bij,bj->bi", inverse, eqs.mean(axis=-1)))
        proven = regular & np.all(shift + spread < radius, axis=-1)
        empty = regular & np.any(shift - spread > radius, axis=-1)
    return proven, empty


def _few_per_support(sid: Index, mask: NDArray[np.bool_], count: int = 3) -> NDArray[np.bool_]:
    """Among the boxes in ``mask``, at most ``count`` per support, spread evenly over its boxes in order."""
    picked = np.zeros_like(mask)
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return picked
    order = idx[np.argsort(sid[idx], kind="stable")]
    groups = sid[order]
    starts = np.searchsorted(groups, groups, side="left")
    size = np.searchsorted(groups, groups, side="right") - starts
    rank = np.arange(order.size) - starts
    targets = np.rint(np.arange(count)[None, :] * (size[:, None] - 1) / max(count - 1, 1))
    picked[order[np.any(rank[:, None] == targets, axis=1)]] = True
    return picked


def _continua(tensors: Float, k: int, tol: float) -> tuple[NDArray[np.bool_], Float]:
    """Test crowded supports for a continuum of solutions: Newton from a few of their boxes reaching solutions
    where the Jacobian is singular. Returns (mask of the sampled boxes that hit one, their local roots)."""
    t, residual = newton(tensors[:, :k], np.full((tensors.shape[0], k), 0.5))
    _, jac = value_and_jacobian(tensors[:, :k], t)
    with np.errstate(all="ignore"):
        sv = np.linalg.svd(jac, compute_uv=False)
    singular = sv[:, -1] <= 1e-6 * np.maximum(sv[:, 0], 1e-300)
    near = np.all((t > -0.5) & (t < 1.5), axis=-1)
    return (residual <= tol) & near & singular, t


def _subdivide(tensors: Float, sid: Index, k: int, tol: float) -> tuple[Index, Float, bool]:
    """All roots in the unit box of each support's ``k`` mixer equations, with the pure constraints.

    ``tensors`` ``(B, n, 2**k)``: rows ``:k`` the mixers' gains, rows ``k:`` the pure players' signed gains.
    Returns ``(support ids, roots (C, k), degenerate)``, where ``degenerate`` says some box went unproven.
    """
    ops = box_operators(k, _INFLATE, min(k, _GROUP_SIZE))
    num_rows = tensors.shape[1]
    low = np.zeros((tensors.shape[0], k))
    width = np.ones(k)
    out_sid: list[Index] = []
    out_x: list[Float] = []
    degenerate = False
    next_test = np.full(int(sid.max(initial=0)) + 1, _CONTINUUM_TEST << k)

    def emit(mask: NDArray[np.bool_], t: Float) -> None:
        out_sid.append(sid[mask])
        out_x.append(low[mask] + t * width)

    for step in range(21 * len(ops.groups)):
        eqs = tensors[:, :k]
        keep = ~np.any((eqs.min(axis=-1) > _EXCLUDE_TOL) | (eqs.max(axis=-1) < -_EXCLUDE_TOL), axis=-1)
        if num_rows > k:
            keep &= ~np.any(tensors[:, k:].max(axis=-1) < -tol, axis=-1)
        tensors, low, sid = tensors[keep], low[keep], sid[keep]
        if tensors.shape[0] == 0:
            break
        proven, empty = _krawczyk(tensors[:, :k], ops)
        if proven.any():
            t, _ = newton(tensors[proven, :k], np.full((int(proven.sum()), k), 0.5))
            emit(proven, t)
        keep = ~(proven | empty)
        tensors, low, sid = tensors[keep], low[keep], sid[keep]
        if tensors.shape[0] == 0:
            break
        finest = width.max()
        counts = np.bincount(sid, minlength=next_test.size)
        testing = counts > next_test
        if testing.any():  # crowded supports: a continuum of solutions, or just many roots?
            sample = _few_per_support(sid, testing[sid], 8)
            hit, t = _continua(tensors[sample], k, tol)
            next_test[testing] = 2 * counts[testing]
            if hit.any():
                degenerate = True
                hit_boxes = np.flatnonzero(sample)[hit]
                shown = _few_per_support(sid[hit_boxes], np.ones(hit_boxes.size, dtype=bool))
                mask = np.zeros(sid.size, dtype=bool)
                mask[hit_boxes[shown]] = True
                emit(mask, t[hit][shown])
                gone = np.isin(sid, sid[hit_boxes])
                tensors, low, sid = tensors[~gone], low[~gone], sid[~gone]
                if tensors.shape[0] == 0:
                    break
                counts = np.bincount(sid, minlength=next_test.size)
        boxes = counts[sid]
        drop = boxes > (_BOX_CAP if finest <= _CROWD_WIDTH else _BOX_CAP_PER_VERTEX << k)
        if finest <= _RESOLVE_WIDTH:
            t, residual = newton(tensors[:, :k], np.full((tensors.shape[0], k), 0.5))
            converged = (residual <= tol) & np.all((t > -0.5) & (t < 1.5), axis=-1)
            drop |= converged if finest > _MIN_WIDTH else np.ones_like(drop)
        if drop.any():
            degenerate = True
            pick = _few_per_support(sid, drop)
            t, _ = newton(tensors[pick, :k], np.full((int(pick.sum()), k), 0.5))
            emit(pick, t)
            tensors, low, sid = tensors[~drop], low[~drop], sid[~drop]
            if tensors.shape[0] == 0:
                break
        for axis in ops.groups[step % len(ops.groups)]:
            tensors = bisect(tensors, axis, k)
            width[axis] *= 0.5
            upper_low = low.copy()
            upper_low[:, axis] += width[axis]
            low = np.concatenate([low, upper_low])
            sid = np.concatenate([sid, sid])
    if not out_sid:
        return np.empty(0, dtype=np.intp), np.empty((0, k)), degenerate
    return np.concatenate(out_sid), np.concatenate(out_x), degenerate


def _one_mixer(tensors: Float, tol: float) -> tuple[Index, Float]:
    """One indifferent mixer: the mid-point of the interval of its probability that keeps the pure players
    content (each pure player's signed gain is linear in it)."""
    idx = np.arange(tensors.shape[0])
    rows = tensors[:, 1:]
    start, slope = rows[..., 0], rows[..., 1] - rows[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.where(slope != 0.0, -start / np.where(slope != 0.0, slope, 1.0), 0.0)
    low = np.max(np.where(slope > 0.0, root, 0.0), axis=-1, initial=0.0)
    high = np.min(np.where(slope < 0.0, root, 1.0), axis=-1, initial=1.0)
    feasible = (low <= high) & ~np.any((slope == 0.0) & (start < -tol), axis=-1)
    return idx[feasible], (0.5 * (low + high))[feasible, None]


def _two_mixers(tensors: Float) -> tuple[Index, Float]:
    """``k = 2`` in closed form: each mixer's gain is linear in the other's probability (no flat gains)."""
    a0, b0 = tensors[:, 0, 0], tensors[:, 0, 1]  # mixer 0's gain at x_1 = 0 and x_1 = 1
    a1, b1 = tensors[:, 1, 0], tensors[:, 1, 2]  # mixer 1's gain at x_0 = 0 and x_0 = 1
    with np.errstate(divide="ignore", invalid="ignore"):
        x1 = a0 / (a0 - b0)
        x0 = a1 / (a1 - b1)
    idx = np.flatnonzero((x0 > 0.0) & (x0 < 1.0) & (x1 > 0.0) & (x1 < 1.0))
    return idx, np.stack([x0[idx], x1[idx]], axis=-1)


def _times(a: tuple[Float, Float], b: tuple[Float, Float]) -> tuple[Float, Float, Float]:
    """Product of two linear polynomials ``c + d t`` given as coefficient pairs: quadratic coefficients."""
    return a[0] * b[0], a[0] * b[1] + a[1] * b[0], a[1] * b[1]


def _three_mixers(tensors: Float) -> tuple[Index, Float]:
    """``k = 3`` by elimination to a quadratic in ``x_2``; returns (support ids, roots).

    For fixed ``x_2 = t`` mixer 0's gain is linear in ``x_1`` and mixer 1's in ``x_0``, giving
    ``x_1 = L0 / (L0 - H0)`` and ``x_0 = L1 / (L1 - H1)`` with ``L, H`` linear in ``t``; mixer 2's gain times
    both denominators is then a quadratic in ``t`` whose roots are polished by Newton on the original system.
    If the quadratic vanishes identically the support holds a curve of solutions: it is sampled on a grid of
    ``t`` and represented by (at most) three of the samples that fall in the unit box.
    """
    e0, e1, e2 = tensors[:, 0], tensors[:, 1], tensors[:, 2]  # vertex v = 4 b0 + 2 b1 + b2

    def line(at_zero: Float, at_one: Float) -> tuple[Float, Float]:
        return at_zero, at_one - at_zero

    low0, high0 = line(e0[:, 0], e0[:, 1]), line(e0[:, 2], e0[:, 3])  # mixer 0 at x_1 = 0 and x_1 = 1
    low1, high1 = line(e1[:, 0], e1[:, 1]), line(e1[:, 4], e1[:, 5])  # mixer 1 at x_0 = 0 and x_0 = 1
    terms = [
        (e2[:, 0], _times(high1, high0)),
        (-e2[:, 2], _times(high1, low0)),
        (-e2[:, 4], _times(low1, high0)),
        (e2[:, 6], _times(low1, low0)),
    ]
    c0, c1, c2 = (sum(w * q[i] for w, q in terms) for i in range(3))
    size = np.maximum(np.maximum(np.abs(c0), np.abs(c1)), np.abs(c2))
    curve = size <= 1e-12
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a, b, c = c2 / size, c1 / size, c0 / size
        quadratic = np.abs(a) > 1e-13
        disc = b * b - 4.0 * a * c
        disc = np.where((disc < 0.0) & (disc > -1e-13), 0.0, disc)
        q = -0.5 * (b + np.copysign(np.sqrt(np.maximum(disc, 0.0)), b))
        r1 = np.where(quadratic, q / a, -c / b)
        r2 = np.where(quadratic, c / q, np.nan)
    t = np.stack([r1, r2], axis=-1)
    ok = (~curve & (~quadratic | (disc >= 0.0)))[:, None] & np.isfinite(t) & (t > 0.0) & (t < 1.0)
    sid = np.repeat(np.arange(tensors.shape[0]), 2)[ok.reshape(-1)]
    t = t[ok]
    grid = (np.arange(_CURVE_SAMPLES) + 0.5) / _CURVE_SAMPLES
    curve_ids = np.flatnonzero(curve)
    sid = np.concatenate([sid, np.repeat(curve_ids, grid.size)])
    t = np.concatenate([t, np.tile(grid, curve_ids.size)])

    def at(poly: tuple[Float, Float]) -> Float:
        return poly[0][sid] + poly[1][sid] * t

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        num1, num0 = at(low0), at(low1)
        den1, den0 = num1 - at(high0), num0 - at(high1)
        x1 = num1 / den1
        x0 = num0 / den0
        # 0/0: at this t a gain vanishes whatever x is: take that x from mixer 2's gain (0.5 if both vanish)
        lost0 = (np.abs(den0) <= 1e-12) & (np.abs(num0) <= 1e-12)
        lost1 = (np.abs(den1) <= 1e-12) & (np.abs(num1) <= 1e-12)
        x0 = np.where(lost0 & lost1, 0.5, x0)
        g = e2[sid]
        a_x1 = g[:, 0] * (1.0 - x1) + g[:, 2] * x1  # mixer 2's gain at x_0 = 0, given x_1
        b_x1 = g[:, 4] * (1.0 - x1) + g[:, 6] * x1  # ... at x_0 = 1
        x0 = np.where(lost0 & ~lost1, a_x1 / (a_x1 - b_x1), x0)
        c_x0 = g[:, 0] * (1.0 - x0) + g[:, 4] * x0  # mixer 2's gain at x_1 = 0, given x_0
        d_x0 = g[:, 2] * (1.0 - x0) + g[:, 6] * x0  # ... at x_1 = 1
        x1 = np.where(lost1, c_x0 / (c_x0 - d_x0), x1)
    # c/0 (with c != 0): the quadratic's root comes from clearing a denominator and solves nothing.
    inside = (
        np.isfinite(x0)
        & np.isfinite(x1)
        & (x0 > -1e-9)
        & (x0 < 1.0 + 1e-9)
        & (x1 > -1e-9)
        & (x1 < 1.0 + 1e-9)
    )
    on_curve = np.isin(sid, curve_ids)
    inside &= ~on_curve | _few_per_support(sid, inside & on_curve)
    roots, sid = np.stack([x0, x1, t], axis=-1)[inside], sid[inside]
    if sid.size:
        roots, _ = newton(tensors[sid, :3], roots, iterations=3)
    return sid, roots


def _slice_centre(tensors: Float, axes: list[int], k: int) -> Float:
    """Restrict vertex tensors ``(S, rows, 2**k)`` to the centre (probability 0.5) of the given local axes."""
    num, rows = tensors.shape[:2]
    for axis in sorted(axes, reverse=True):
        k_now = tensors.shape[-1].bit_length() - 1
        shaped = tensors.reshape(num, rows, 1 << axis, 2, 1 << (k_now - axis - 1))
        tensors = shaped.mean(axis=3).reshape(num, rows, -1)
    return tensors


def _roots(tensors: Float, k: int, tol: float) -> tuple[Index, Float, bool]:
    """Solutions in the unit box of ``S`` support systems ``(S, rows, 2**k)`` (see `support_gather`).

    Returns (row index of the support, mixer probabilities ``(C, k)``, whether degenerate supports were met).
    A mixer whose gain is flat (zero within tolerance over the whole box) is indifferent whatever happens: its
    equation is dropped and its probability fixed at 0.5, leaving a smaller system of the same kind, solved
    recursively. This represents continua by a point and avoids subdividing them.
    """
    flat = np.all(np.abs(tensors[:, :k]) <= tol, axis=-1)  # (S, k)
    regular = np.flatnonzero(~flat.any(axis=-1))
    pos: list[Index] = []
    roots: list[Float] = []
    degenerate = False
    if regular.size and k >= 2:
        sub = tensors[regular]
        if k == 2:
            p, x = _two_mixers(sub)
        elif k == 3:
            p, x = _three_mixers(sub)
        else:
            p, x, degenerate = _subdivide(sub, np.arange(sub.shape[0]), k, tol)
        pos.append(regular[p])
        roots.append(x)
    odd = np.flatnonzero(flat.any(axis=-1))
    if odd.size:
        degenerate = True
        patterns, which = np.unique(flat[odd], axis=0, return_inverse=True)
        for j, pattern in enumerate(patterns):
            members = odd[which.reshape(-1) == j]
            free = [r for r in range(k) if not pattern[r]]
            fixed = [r for r in range(k) if pattern[r]]
            x = np.full((members.size, k), 0.5)
            if k == 1:
                p, x1 = _one_mixer(tensors[members], tol)
                members, x = members[p], x1
            elif free:
                keep_rows = free + list(range(k, tensors.shape[1]))
                reduced = _slice_centre(tensors[members][:, keep_rows], fixed, k)
                p, x_free, _ = _roots(reduced, len(free), tol)
                members, x = members[p], np.full((p.size, k), 0.5)
                x[:, free] = x_free
            pos.append(members)
            roots.append(x)
    if not pos:
        return np.empty(0, dtype=np.intp), np.empty((0, k)), degenerate
    return np.concatenate(pos), np.concatenate(roots), degenerate


def _level(table: Float, n: int, k: int, tol: float) -> tuple[Float, bool]:
    """Candidate profiles of all supports with ``k`` mixers (unverified), and whether any was degenerate."""
    fam = _family(n, k)
    tensors = table.reshape(-1)[fam.gather] * fam.sign
    eqs = tensors[:, :k]
    alive = ~np.any((eqs.min(axis=-1) > _EXCLUDE_TOL) | (eqs.max(axis=-1) < -_EXCLUDE_TOL), axis=-1)
    if n > k:
        alive &= ~np.any(tensors[:, k:].max(axis=-1) < -tol, axis=-1)
    live = np.flatnonzero(alive)
    pos, x, degenerate = _roots(tensors[live], k, tol)
    sid = live[pos]
    profiles = fam.base[sid]
    np.put_along_axis(profiles, fam.mixers[sid], np.clip(x, 0.0, 1.0), axis=-1)
    order = np.lexsort((*(profiles[:, j] for j in range(n - 1, -1, -1)), sid))
    return profiles[order], degenerate


def _dedup(profiles: Float) -> Float:
    """Drop profiles within `_DEDUP_ATOL` of an earlier one (keeps enumeration order)."""
    if profiles.shape[0] < 2:
        return profiles
    close = np.all(np.abs(profiles[:, None, :] - profiles[None, :, :]) <= _DEDUP_ATOL, axis=-1)
    keep = ~np.any(np.tril(close, k=-1), axis=-1)
    return profiles[keep]


def _search(game: Float, n: int, first: bool, rtol: float) -> Float:
    """Verified equilibria of a game already divided by its scale (the tolerance is then ``rtol`` itself)."""
    table = gain_table(game, n)
    pure, sign = _pure(n)
    content = np.all(sign * table >= -rtol, axis=0)
    found = [pure[content]]
    if (first and content.any()) or not np.any(table):
        return pure[content][:1] if first else pure[content]
    for k in range(1, n + 1):
        candidates, degenerate = _level(table, n, k, rtol)
        if degenerate:
            logger.debug("degenerate supports with %d mixers: continua or singular equilibria", k)
        if candidates.shape[0]:
            ok = regrets_at(table, candidates).max(axis=-1) <= rtol
            found.append(candidates[ok])
            if first and ok.any():
                break
    profiles = _dedup(np.concatenate(found))
    return profiles[:1] if first else profiles


def _two_players(game: Float, first: bool, rtol: float) -> Equilibria:
    found = equilibria_2x2_scalar(game.reshape(-1).tolist(), rtol)
    if first:
        found = found[:1]
    data = np.array(found, dtype=np.float64).reshape(-1, 4)
    return Equilibria(profiles=data[:, :2].copy(), regrets=data[:, 2:].copy())


def enumerate_equilibria(payoffs: ArrayLike, *, first: bool = False, rtol: float = 1e-9) -> Equilibria:
    """Nash equilibria of one n-player 2-action game (all of them, or only the first in enumeration order).

    Args:
        payoffs: shape ``(n, 2, ..., 2)``, see `games`.
        first: stop at the first support level that has an equilibrium and return only the first one
            (allowed up to ``MAX_EXACT_PLAYERS`` players; all equilibria up to ``MAX_ALL_PLAYERS``).
        rtol: regret tolerance relative to the game's largest absolute payoff.

    Returns:
        At least one verified equilibrium (continua of equilibria are represented by some of their points).
    """
    game = as_game(payoffs)
    n = num_players(game)
    if n > (MAX_EXACT_PLAYERS if first else MAX_ALL_PLAYERS):
        raise ValueError(
            f"n = {n} players is too many: the exact solver finds the first equilibrium for up to "
            f"{MAX_EXACT_PLAYERS} players and all equilibria for up to {MAX_ALL_PLAYERS}"
        )
    if n == 2:
        return _two_players(game, first, rtol)
    scale = float(np.abs(game).max())
    unit = game / scale if scale > 0.0 else game
    profiles = _search(unit, n, first, rtol)
    perturbed = False
    if profiles.shape[0] == 0:
        table = gain_table(unit, n)
        rng = np.random.default_rng(_PERTURBATION_SEED)
        for size in _PERTURBATION:
            noisy = unit + size * rng.uniform(-1.0, 1.0, size=unit.shape)
            candidates = _search(noisy / np.abs(noisy).max(), n, first, rtol)
            if candidates.shape[0]:
                candidates = candidates[regrets_at(table, candidates).max(axis=-1) <= rtol]
            if candidates.shape[0]:
                profiles, perturbed = candidates, True
                logger.debug("equilibria found through a perturbed copy of a degenerate game")
                break
    regrets = regrets_at(gain_table(game, n), profiles) if profiles.shape[0] else np.empty((0, n))
    return Equilibria(profiles=profiles, regrets=regrets, perturbed=perturbed)


def equilibria(payoffs: ArrayLike, rtol: float = 1e-9) -> Float:
    """All (representative) Nash equilibria of one game, shape ``(m, n)``; see `enumerate_equilibria`."""
    return enumerate_equilibria(payoffs, rtol=rtol).profiles


def first_equilibrium(payoffs: ArrayLike, rtol: float = 1e-9) -> Float:
    """The first Nash equilibrium in enumeration order (pure profiles first, "all keep" first): ``(n,)``."""
    found = enumerate_equilibria(payoffs, first=True, rtol=rtol).profiles
    if found.shape[0] == 0:  # pragma: no cover - the perturbation fallback makes this unreachable in practice
        raise RuntimeError("no verified equilibrium found")
    return found[0]
