"""MATRL's 2x2 meta-game (paper Eq. 5) in a stateless game, its equilibria and the choice among them.

Each player has two meta-strategies: keep the current policy (meta action 0) or switch to the predicted one
(meta action 1). A meta profile ``rho[..., i]`` is the probability that player ``i`` keeps its current policy,
the paper's rho; the aggregated policy is ``rho * pi + (1 - rho) * pi_hat``.

Two constructions:

* :func:`exact_meta_game` (paper variant): entry ``g_i(x', y') = V_i(x', y') - V_i(x, y)``. In a stateless
  game the expected advantage of Eq. 3, ``sum_a pi_hat_0(a0) pi_hat_1(a1) (P_i[a0, a1] - V_i(x, y))``, is
  exactly this difference (no state-visitation approximation is involved), and the all-current entry is 0.
* :func:`original_meta_game` (original variant): the official code's ``A_TR`` formula, whose (0,1) and (1,0)
  cross terms use ``x'(1-y') - x(1-y')`` and ``(1-x')y - (1-x)y`` (the exact terms would be ``x(1-y)`` and
  ``(1-x')y'``); reproduced literally.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from matrl.gametheory import equilibria_2x2_batch
from matrl.matrixgames.batch import FloatArray, GameBatch, nashpy_equilibria

Selection = Literal["random", "first", "last", "welfare"]
SELECTIONS: Final[tuple[Selection, ...]] = get_args(Selection)

# Preference order of the "last" rule over the candidates of `equilibria_2x2_batch`: nashpy lists the pure
# profiles row-major and then the fully mixed one, so its last is 4, else 3, 2, 1, 0; partial mixtures (which
# nashpy never lists) come only after those.
_LAST_ORDER: Final = np.array([4, 3, 2, 1, 0, 6, 5, 8, 7])


def kl_bernoulli(p: FloatArray, q: FloatArray) -> FloatArray:
    """KL(Bernoulli(p) || Bernoulli(q)) with the conventions ``0 ln 0 = 0`` and ``+inf`` off the support.

    Only used for reporting and tests; the paper variant's predicted step maximises ``V - c * KL`` in closed
    form (see :func:`matrl.matrixgames.trust_region.proximal_step`).
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t0 = np.where(p > 0, p * np.log(p / q), 0.0)
        t1 = np.where(p < 1, (1 - p) * np.log((1 - p) / (1 - q)), 0.0)
    return np.asarray(t0 + t1, dtype=np.float64)


def kl_original(p: FloatArray, q: FloatArray) -> FloatArray:
    """The official code's KL: 0 if p or q is exactly 0 or 1, NaN if q lies outside [0, 1]."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    edge = (p == 0) | (p == 1) | (q == 0) | (q == 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
    return np.where(edge, 0.0, kl)


def _stack_meta(m0: tuple[FloatArray, FloatArray, FloatArray], m1: tuple[FloatArray, ...]) -> FloatArray:
    """Payoff tensor (G, 2, 2, 2) from the entries keep/switch, switch/keep, switch/switch (keep/keep = 0)."""
    out = np.zeros((m0[0].shape[0], 2, 2, 2), dtype=np.float64)
    for player, (keep_switch, switch_keep, switch_switch) in enumerate((m0, m1)):
        out[:, player, 0, 1] = keep_switch
        out[:, player, 1, 0] = switch_keep
        out[:, player, 1, 1] = switch_switch
    return out


def exact_meta_game(
    games: GameBatch, x: FloatArray, y: FloatArray, x_hat: FloatArray, y_hat: FloatArray
) -> FloatArray:
    """Paper Eq. 5 with exact expected advantages: ``M[g, i, r, c] = V_i(x_r, y_c) - V_i(x, y)``.

    ``x_0 = x`` (keep), ``x_1 = x_hat`` (switch); likewise for y. Shape (G, 2, 2, 2); ``M[:, :, 0, 0] == 0``.
    """
    entries = []
    for player in (0, 1):
        base = games.value(player, x, y)
        entries.append(
            (
                games.value(player, x, y_hat) - base,
                games.value(player, x_hat, y) - base,
                games.value(player, x_hat, y_hat) - base,
            )
        )
    return _stack_meta(entries[0], entries[1])


def _a_tr(
    games: GameBatch,
    player: int,
    x_new: FloatArray,
    y_new: FloatArray,
    x: FloatArray,
    y: FloatArray,
    base: FloatArray,
) -> FloatArray:
    """The official ``A_TR`` (quirky cross terms kept), in its order of operations."""
    adv00 = games.entry(player, 0, 0) - base
    adv01 = games.entry(player, 0, 1) - base
    adv10 = games.entry(player, 1, 0) - base
    adv11 = games.entry(player, 1, 1) - base
    return (
        (x_new * y_new - x * y) * adv00
        + (x_new * (1 - y_new) - x * (1 - y_new)) * adv01
        + ((1 - x_new) * y - (1 - x) * y) * adv10
        + ((1 - x_new) * (1 - y_new) - (1 - x) * (1 - y)) * adv11
    )


def original_meta_game(
    games: GameBatch, x: FloatArray, y: FloatArray, x_hat: FloatArray, y_hat: FloatArray
) -> FloatArray:
    """The official code's meta-game ``[[0, T(x, y_hat)], [T(x_hat, y), T(x_hat, y_hat)]]`` per player."""
    entries = []
    for player in (0, 1):
        base = games.value(player, x, y)
        entries.append(
            (
                _a_tr(games, player, x, y_hat, x, y, base),
                _a_tr(games, player, x_hat, y, x, y, base),
                _a_tr(games, player, x_hat, y_hat, x, y, base),
            )
        )
    return _stack_meta(entries[0], entries[1])


def uniform_hash(keys: NDArray[np.uint64], counter: int) -> FloatArray:
    """Deterministic U[0, 1) numbers from (per-game key, counter) with SplitMix64.

    Counter-based, so a game's random choices depend on its key and the iteration only, not on which games
    share the batch or have already stopped.
    """
    z = keys ^ np.full_like(keys, (counter + 1) * 0x9E3779B97F4A7C15 % 2**64)
    z = z + np.full_like(keys, 0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.full_like(keys, 0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.full_like(keys, 0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def select_equilibrium(
    meta: FloatArray,
    profiles: FloatArray,
    valid: NDArray[np.bool_],
    rule: Selection,
    uniforms: FloatArray | None = None,
) -> FloatArray:
    """Pick one equilibrium per game among the valid candidates; returns rho, shape (G, 2).

    Rules: ``random`` (the paper: "an equilibrium is randomly selected"; uniform over the verified
    candidates, driven by ``uniforms``), ``first`` (candidate order: pure profiles first, all-keep first),
    ``last`` (the original code's choice: the last one nashpy lists, i.e. the fully mixed one if any, else the
    last pure one in row-major order), ``welfare`` (largest sum of the two players' meta payoffs, ties broken
    by candidate order).
    """
    rows = np.arange(valid.shape[0])
    if rule == "random":
        if uniforms is None:
            raise ValueError("the random selection rule needs uniforms")
        count = valid.sum(axis=1)
        pick = np.minimum((uniforms * count).astype(np.intp), count - 1)
        rank = np.cumsum(valid, axis=1) - 1
        index = np.argmax(valid & (rank == pick[:, None]), axis=1)
    elif rule == "first":
        index = np.argmax(valid, axis=1)
    elif rule == "last":
        index = _LAST_ORDER[np.argmax(valid[:, _LAST_ORDER], axis=1)]
    elif rule == "welfare":
        safe = np.where(np.isfinite(profiles), profiles, 0.5)
        p, q = safe[..., 0], safe[..., 1]
        total = meta[:, None, 0] + meta[:, None, 1]  # (G, 1, 2, 2) summed over players
        welfare = (
            p * q * total[..., 0, 0]
            + p * (1 - q) * total[..., 0, 1]
            + (1 - p) * q * total[..., 1, 0]
            + (1 - p) * (1 - q) * total[..., 1, 1]
        )
        index = np.argmax(np.where(valid, welfare, -np.inf), axis=1)
    else:
        raise ValueError(f"unknown selection rule {rule!r}; known: {', '.join(SELECTIONS)}")
    return np.asarray(profiles[rows, index], dtype=np.float64)


def solve_meta_game(
    meta: FloatArray, rule: Selection, uniforms: FloatArray | None = None, *, nashpy_like: bool = False
) -> FloatArray:
    """Equilibria of a batch of meta-games (closed form, `equilibria_2x2_batch`) and the selected rho (G, 2).

    ``nashpy_like`` restricts the candidates to those nashpy's support enumeration accepts (exact ties,
    no partial mixtures), as the original variant needs; if none qualifies (a degenerate game on which
    nashpy yields nothing and the original crashes) the verified partial mixtures are used instead.
    """
    if nashpy_like:
        profiles, valid = nashpy_equilibria(meta)
        none = ~valid.any(axis=1)
        if np.any(none):
            _, verified = equilibria_2x2_batch(meta[none])
            valid[none] = verified
    else:
        profiles, valid = equilibria_2x2_batch(meta)
    return select_equilibrium(meta, profiles, valid, rule, uniforms)
