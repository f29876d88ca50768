"""n-player games with two actions per player: expected payoffs, regret and NashConv.

Conventions used across `matrl.gametheory`:

* A game is a payoff tensor ``payoffs`` of shape ``(..., n, 2, ..., 2)`` with ``n`` action axes:
  ``payoffs[..., i, a_1, ..., a_n]`` is player ``i``'s payoff for the pure profile ``(a_1, ..., a_n)``.
  Leading axes are batch axes, so thousands of games can be evaluated in one call.
* A mixed profile is ``p`` of shape ``(..., n)``: ``p[..., i]`` is the probability that player ``i`` plays
  action 0. In the MATRL meta-game action 0 is "keep the current policy" and action 1 is "switch to the
  predicted policy", so ``p`` is exactly the paper's ``rho``.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike, NDArray

_AXES = "abcdefghijklmnop"
MAX_PLAYERS = len(_AXES)


def num_players(payoffs: NDArray[np.floating], n: int | None = None) -> int:
    """Number of players of a payoff tensor.

    A shape like (3, 2, 2, 2) reads both as one 3-player game and as a batch of three 2-player games, so
    batched callers pass ``n``; without it the tensor is read as a single, unbatched game.
    """
    shape = payoffs.shape
    if n is None:
        n = payoffs.ndim - 1
    if not (1 <= n <= MAX_PLAYERS) or payoffs.ndim < n + 1 or shape[-n - 1] != n or shape[-n:] != (2,) * n:
        raise ValueError(
            f"payoffs of shape {shape} are not {n}-player 2-action games: expected (..., n, 2, ..., 2) "
            f"with n trailing axes of size 2, 1 <= n <= {MAX_PLAYERS}"
        )
    return n


def as_game(payoffs: ArrayLike, n: int | None = None) -> NDArray[np.float64]:
    """Validate and convert a payoff tensor to float64; NaN or infinite payoffs are rejected.

    Errors are one-line ``ValueError``s naming the offending value and what is allowed.
    """
    if isinstance(payoffs, np.ndarray) and payoffs.dtype == np.float64:
        arr = payoffs
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", np.exceptions.ComplexWarning)
                arr = np.asarray(payoffs, dtype=np.float64)
        except (TypeError, ValueError, np.exceptions.ComplexWarning) as error:
            raise ValueError(
                f"payoffs must be an array of real numbers; got {type(payoffs).__name__} ({error})"
            ) from None
    num_players(arr, n)
    if not np.isfinite(arr).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(
            f"payoffs{list(bad)} = {arr[bad]} is not finite; payoffs must be finite real numbers"
        )
    return arr


def action_values(payoffs: NDArray[np.floating], p: ArrayLike) -> NDArray[np.float64]:
    """Payoff of each pure action of each player against the others' mixed strategies.

    Returns an array of shape ``(..., n, 2)``: entry ``[..., i, a]`` is player ``i``'s expected payoff for
    playing ``a`` while every other player ``j`` mixes with ``p[..., j]``.
    """
    probs = np.asarray(p, dtype=np.float64)
    n = num_players(payoffs, probs.shape[-1] if probs.ndim else None)
    mix = np.stack([probs, 1.0 - probs], axis=-1)  # (..., n, 2): distribution over actions of each player
    axes = _AXES[:n]
    values = []
    for i in range(n):
        operands: list[NDArray[np.float64]] = [np.asarray(np.take(payoffs, i, axis=-n - 1), np.float64)]
        subscripts = [f"...{axes}"]
        for j in range(n):
            if j != i:
                operands.append(mix[..., j, :])
                subscripts.append(f"...{axes[j]}")
        values.append(np.einsum(",".join(subscripts) + f"->...{axes[i]}", *operands))
    return np.stack(values, axis=-2)


def expected_payoffs(payoffs: NDArray[np.floating], p: ArrayLike) -> NDArray[np.float64]:
    """Each player's expected payoff under the mixed profile ``p``; shape ``(..., n)``."""
    values = action_values(payoffs, p)
    probs = np.asarray(p, dtype=np.float64)
    return probs * values[..., 0] + (1.0 - probs) * values[..., 1]


def regrets(payoffs: NDArray[np.floating], p: ArrayLike) -> NDArray[np.float64]:
    """How much each player gains by deviating to its best pure action; shape ``(..., n)``, all >= 0."""
    values = action_values(payoffs, p)
    probs = np.asarray(p, dtype=np.float64)
    expected = probs * values[..., 0] + (1.0 - probs) * values[..., 1]
    return np.maximum(values.max(axis=-1) - expected, 0.0)


def nash_conv(payoffs: NDArray[np.floating], p: ArrayLike) -> NDArray[np.float64]:
    """Sum of the players' regrets: zero exactly at a Nash equilibrium."""
    return regrets(payoffs, p).sum(axis=-1)


def payoff_scale(payoffs: NDArray[np.floating], n: int | None = None) -> NDArray[np.float64]:
    """Largest absolute payoff per game: the unit in which equilibrium tolerances are relative."""
    n = num_players(payoffs, n)
    flat = np.abs(np.asarray(payoffs, dtype=np.float64)).reshape(*payoffs.shape[: -n - 1], -1)
    return flat.max(axis=-1)


def is_equilibrium(
    payoffs: NDArray[np.floating], p: ArrayLike, rtol: float = 1e-9
) -> NDArray[np.bool_] | np.bool_:
    """True where every player's regret is at most ``rtol`` times the game's payoff scale."""
    probs = np.asarray(p, dtype=np.float64)
    in_simplex = np.all((probs >= 0.0) & (probs <= 1.0), axis=-1)
    worst = regrets(payoffs, np.clip(probs, 0.0, 1.0)).max(axis=-1)
    return in_simplex & (worst <= rtol * payoff_scale(payoffs, probs.shape[-1]))
