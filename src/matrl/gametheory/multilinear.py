"""Gains and vertex tensors: the multilinear algebra behind every solver of `matrl.gametheory`.

With two actions, all a player needs to know is its *gain* ``d_i = u_i(0, p_-i) - u_i(1, p_-i)``: it
plays action 0 (``p_i = 1``) if ``d_i > 0``, action 1 if ``d_i < 0`` and may mix only if ``d_i = 0``; its
regret is ``(1 - p_i) max(d_i, 0) + p_i max(-d_i, 0)``. ``d_i`` is multilinear in the other players'
probabilities, so it is fully described by its values at the vertices of the unit cube. On any box its range
is the hull of its vertex values (exact range bounds, used by the subdivision solver), and restricting it to
a sub-box is linear interpolation of those values (numerically benign convex combinations).

Layout of a *gain table* ``D``: shape ``(n, 2**n)``, ``D[i, f]`` is ``d_i`` at the pure profile with flat
index ``f = sum_j a_j 2**(n-1-j)`` (action 0 first, as in the payoff tensor); it does not depend on ``a_i``.
Layout of a *vertex tensor* over ``k`` free probabilities ``x``: last axis of size ``2**k``, vertex bit ``r``
(most significant first) is 1 where ``x_r`` is at the *upper* end of its interval (``x = 1`` means action 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

Float = NDArray[np.float64]
Index = NDArray[np.intp]


@lru_cache(maxsize=32)
def _gain_index(n: int) -> tuple[Index, Index]:
    """Flat indices into ``payoffs.ravel()`` of ``u_i(0, a_-i)`` and ``u_i(1, a_-i)`` for every ``(i, a)``."""
    size = 1 << n
    flat = np.arange(size, dtype=np.intp)
    with_zero = np.empty((n, size), dtype=np.intp)
    with_one = np.empty((n, size), dtype=np.intp)
    for i in range(n):
        bit = 1 << (n - 1 - i)
        with_zero[i] = i * size + (flat & ~bit)
        with_one[i] = i * size + (flat | bit)
    with_zero.flags.writeable = False
    with_one.flags.writeable = False
    return with_zero, with_one


def gain_table(game: Float, n: int) -> Float:
    """The gain table ``D`` (n, 2**n) of one validated game ``(n, 2, ..., 2)``."""
    flat = game.reshape(-1)
    with_zero, with_one = _gain_index(n)
    return flat[with_zero] - flat[with_one]


def gains_at(table: Float, profiles: Float) -> Float:
    """``d_i(p_-i)`` for a batch of profiles ``(m, n)``; returns ``(m, n)``.

    Contracting player i's own axis is harmless: ``D`` is constant along it and the weights sum to one.
    """
    m, n = profiles.shape
    values = np.broadcast_to(table, (m, *table.shape))
    for j in range(n - 1, -1, -1):
        values = values.reshape(m, n, -1, 2)
        p_j = profiles[:, j, None, None]
        values = values[..., 0] * p_j + values[..., 1] * (1.0 - p_j)
    return values.reshape(m, n)


def regrets_from_gains(gains: Float, profiles: Float) -> Float:
    """Each player's regret given its gain; the same number as `games.regrets`, without einsum overhead."""
    return (1.0 - profiles) * np.maximum(gains, 0.0) + profiles * np.maximum(-gains, 0.0)


def regrets_at(table: Float, profiles: Float) -> Float:
    """Regrets ``(m, n)`` of a batch of profiles ``(m, n)`` from the gain table."""
    return regrets_from_gains(gains_at(table, profiles), profiles)


def contract(tensor: Float, low: Float, high: Float) -> Float:
    """Weighted sum over the vertices of vertex tensors ``(..., rows, 2**k)``, per-axis weights ``(..., k)``.

    With ``low = 1 - t`` and ``high = t`` this is the multilinear interpolation at local coordinates ``t``.
    """
    k = low.shape[-1]
    lead = tensor.shape[:-1]
    values = tensor
    for r in range(k - 1, -1, -1):
        values = values.reshape(*lead, -1, 2)
        values = values[..., 0] * low[..., None, r, None] + values[..., 1] * high[..., None, r, None]
    return values.reshape(lead)


def value_and_jacobian(tensor: Float, t: Float) -> tuple[Float, Float]:
    """Values ``(B, rows)`` and Jacobian ``(B, rows, k)`` w.r.t. local coordinates ``t`` ``(B, k)``.

    Interpolation weights are Kronecker products of ``(1 - t_r, t_r)``; the derivative along axis ``r`` swaps
    that factor for ``(-1, 1)``. Prefix and suffix products give all ``k + 1`` weight vectors in O(k) steps.
    """
    num, k = t.shape
    factors = np.stack([1.0 - t, t], axis=-1)  # (B, k, 2)
    prefix = [np.ones((num, 1))]
    for r in range(k):
        prefix.append((prefix[-1][:, :, None] * factors[:, r, None, :]).reshape(num, -1))
    suffix = [np.ones((num, 1))]
    for r in range(k - 1, -1, -1):
        suffix.append((factors[:, r, :, None] * suffix[-1][:, None, :]).reshape(num, -1))
    suffix.reverse()  # suffix[r] is the product over axes r..k-1
    weights = [prefix[k]]
    for r in range(k):
        outer = np.concatenate([-prefix[r], prefix[r]], axis=-1).reshape(num, 2, -1).transpose(0, 2, 1)
        weights.append((outer.reshape(num, -1)[:, :, None] * suffix[r + 1][:, None, :]).reshape(num, -1))
    both = np.einsum("brv,bcv->brc", tensor, np.stack(weights, axis=1))
    return both[:, :, 0], both[:, :, 1:]


def _solve_steps(jac: Float, value: Float) -> Float:
    """Newton steps ``J^-1 F``, or the minimum-norm least-squares step where ``J`` is singular."""
    with np.errstate(all="ignore"):
        try:
            step = np.linalg.solve(jac, value[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.einsum("bij,bj->bi", np.linalg.pinv(jac, rcond=1e-12), value)
        else:
            bad = ~np.all(np.isfinite(step) & (np.abs(step) < 1e6), axis=-1)
            if bad.any():
                step[bad] = np.einsum("bij,bj->bi", np.linalg.pinv(jac[bad], rcond=1e-12), value[bad])
    return np.where(np.isfinite(step), step, 0.0)


def newton(tensor: Float, t: Float, iterations: int = 12, step_tol: float = 1e-14) -> tuple[Float, Float]:
    """Newton's method on the square system ``tensor(t) = 0`` from ``t`` ``(B, k)``; returns ``(t, max |F|)``.

    Where the Jacobian is singular (continua of solutions in degenerate games) the step is the minimum-norm
    least-squares one (Gauss-Newton), which lands on a nearby solution instead of diverging.
    """
    t = t.copy()
    active = np.arange(t.shape[0])
    for _ in range(iterations):
        value, jac = value_and_jacobian(tensor[active], t[active])
        step = _solve_steps(jac, value)
        t[active] -= step
        active = active[np.any(np.abs(step) > step_tol, axis=-1)]
        if active.size == 0:
            break
    value = contract(tensor, 1.0 - t, t)
    return t, np.abs(value).max(axis=-1, initial=0.0)


def _kron(factors: list[Float]) -> Float:
    out = np.ones((1, 1))
    for factor in factors:
        out = np.asarray(np.kron(out, factor), dtype=np.float64)
    return out


@dataclass(frozen=True)
class BoxOperators:
    """Linear maps on ``k``-dimensional vertex tensors (right-multiply ``tensor @ op``), cached per ``k``.

    Expressing inflation and slopes as small matrices turns the Krawczyk test into two matrix products instead
    of ``k`` Python-level reshapes each.
    """

    k: int
    inflation: float
    slopes_inflated: Float  # (2**k, k * 2**(k-1)): slope along each axis at each vertex of the inflated box
    jacobian_centre: Float  # (2**k, k): derivative along each axis at the box centre
    eye: Float  # (k, k)
    groups: tuple[tuple[int, ...], ...]  # the axes bisected at each step of the subdivision, cycled


@lru_cache(maxsize=16)
def box_operators(k: int, inflation: float, group_size: int) -> BoxOperators:
    """`BoxOperators` for boxes inflated by ``inflation`` of their width on each side (local coordinates),
    bisected ``group_size`` axes per step (``2**group_size`` children)."""
    eye = np.eye(2)
    grow = np.array([[1.0 + inflation, -inflation], [-inflation, 1.0 + inflation]])
    diff = np.array([[-1.0], [1.0]])
    mean = np.array([[0.5], [0.5]])
    grow_all = _kron([grow] * k)
    slope_cols = [_kron([diff if r == axis else eye for r in range(k)]) for axis in range(k)]
    centre_cols = [_kron([diff if r == axis else mean for r in range(k)]) for axis in range(k)]
    groups = tuple(tuple(range(i, min(i + group_size, k))) for i in range(0, k, group_size))
    return BoxOperators(
        k=k,
        inflation=inflation,
        slopes_inflated=grow_all @ np.concatenate(slope_cols, axis=1) / (1.0 + 2.0 * inflation),
        jacobian_centre=np.concatenate(centre_cols, axis=1),
        eye=np.eye(k),
        groups=groups,
    )


def bisect(tensor: Float, axis: int, k: int) -> Float:
    """Both halves along a local axis of a batch of vertex tensors ``(B, rows, 2**k)``: ``(2B, rows, 2**k)``,
    lower halves first."""
    num, rows = tensor.shape[:2]
    shaped = tensor.reshape(num, rows, 1 << axis, 2, 1 << (k - axis - 1))
    low, high = shaped[..., 0, :], shaped[..., 1, :]
    mid = 0.5 * (low + high)
    halves = np.stack([np.stack([low, mid], axis=-2), np.stack([mid, high], axis=-2)])
    return halves.reshape(2 * num, rows, -1)


def support_gather(
    n: int, mixers: tuple[int, ...], pure_players: tuple[int, ...], pure_actions: NDArray[np.int8]
) -> tuple[Index, Float]:
    """Indices into ``D.ravel()`` and signs building the vertex tensors of a family of supports.

    One support per row of ``pure_actions`` ``(S, n-k)``. Rows of the result: first the ``k`` mixers' gains
    (must vanish), then the pure players' gains multiplied by the sign they must have (``+`` for action 0), so
    that "this pure player is content" reads ``row >= 0``. Returns ``(gather (S, n, 2**k), sign (S, n, 1))``.
    """
    k = len(mixers)
    num = pure_actions.shape[0]
    vertices = (np.arange(1 << k)[:, None] >> np.arange(k - 1, -1, -1)[None, :]) & 1  # (2**k, k), bit 1 = x=1
    flat = np.zeros((num, 1 << k), dtype=np.intp)
    for r, player in enumerate(mixers):
        flat += ((1 - vertices[:, r]) << (n - 1 - player))[None, :]
    for c, player in enumerate(pure_players):
        flat += (pure_actions[:, c].astype(np.intp) << (n - 1 - player))[:, None]
    rows = np.asarray(mixers + pure_players, dtype=np.intp)
    gather = rows[None, :, None] * (1 << n) + flat[:, None, :]
    sign = np.ones((num, n, 1))
    if pure_players:
        sign[:, k:, 0] = np.where(pure_actions == 0, 1.0, -1.0)
    return gather, sign
