"""Choosing one equilibrium when the meta-game has several.

Rules (``profiles`` are the verified equilibria in enumeration order, ``rho_i`` = P(keep current policy)):

* ``closest_to_current`` (default): smallest total switching probability ``sum_i (1 - rho_i)``, i.e. the
  equilibrium nearest (L1) to "everybody keeps the current policy" (rho = all ones); ties go to the larger
  welfare, then to enumeration order.
* ``first``: the first one found (pure profiles first, from "all keep" on); needs no full enumeration.
* ``max_welfare``: largest sum of the players' expected payoffs (expected advantages in MATRL); ties go to
  enumeration order.
* ``random``: uniformly at random with the caller's seeded generator: what the paper does (sec. 3.2).

Why ``closest_to_current`` is the default:

1. Trust region. The meta-game's payoffs are first-order estimates built from trajectories of the *current*
   policies (importance-weighted advantages); they are most trustworthy near rho = 1, and the paper's lower
   bound on the improvement (Remark 1) loses a penalty that grows with every ``1 - rho_i``. Among equally
   stable points MATRL should take the smallest step.
2. Determinism. The choice depends on the game only: no extra random stream, no dependence on the order in
   which equilibria are enumerated, so equal seeds give equal runs and solver changes do not change learning.
3. It does not stall learning: "all keep" is an equilibrium only if no agent's predicted policy beats its
   current one against the others' current policies, i.e. when the trust-region step itself found no
   improvement; otherwise the rule moves as little as stability allows.

``random`` remains available to reproduce the paper exactly.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

from matrl.gametheory.forms import MetaGame, as_meta_game
from matrl.gametheory.sample_form import SampleMetaGame

Selection = Literal["closest_to_current", "first", "max_welfare", "random"]

SELECTIONS: Final[tuple[str, ...]] = ("closest_to_current", "first", "max_welfare", "random")
DEFAULT_SELECTION: Final[Selection] = "closest_to_current"

_TIE = 1e-12


def _best(scores: NDArray[np.float64], tie: float) -> NDArray[np.bool_]:
    """Mask of the scores within ``tie`` of the maximum."""
    return np.asarray(scores >= scores.max() - tie)


def select_equilibrium(
    profiles: NDArray[np.float64],
    payoffs: NDArray[np.float64] | SampleMetaGame,
    rule: str = DEFAULT_SELECTION,
    rng: np.random.Generator | None = None,
) -> int:
    """Index of the equilibrium that ``rule`` picks among ``profiles`` ``(m, n)`` of the game ``payoffs``
    (a payoff tensor or a `SampleMetaGame`: welfare and the tie tolerance come from its `MetaGame` methods).

    ``rng`` is required by ``random`` only.
    """
    count = profiles.shape[0]
    if count == 0:
        raise ValueError("no equilibria to select from")
    if rule not in SELECTIONS:
        raise ValueError(f"unknown selection rule {rule!r}; expected one of {', '.join(SELECTIONS)}")
    if rule == "first" or count == 1:
        return 0
    if rule == "random":
        if rng is None:
            raise ValueError("selection 'random' needs a numpy Generator (rng=np.random.default_rng(seed))")
        return int(rng.integers(count))

    game: MetaGame = as_meta_game(payoffs)

    def welfare(rows: NDArray[np.intp]) -> NDArray[np.float64]:
        return np.asarray(game.payoffs(profiles[rows]).sum(axis=-1), dtype=np.float64)

    scale = max(game.payoff_scale(), np.finfo(np.float64).tiny)
    welfare_tie = _TIE * scale * profiles.shape[1]
    if rule == "max_welfare":
        return int(np.flatnonzero(_best(welfare(np.arange(count)), welfare_tie))[0])
    candidates = np.flatnonzero(_best(-(1.0 - profiles).sum(axis=-1), _TIE * profiles.shape[1]))
    if candidates.size == 1:
        return int(candidates[0])
    return int(candidates[np.flatnonzero(_best(welfare(candidates), welfare_tie))[0]])
