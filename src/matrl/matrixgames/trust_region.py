"""MATRL (paper Algorithm 1) on 2x2 matrix games with exact policy gradients, in two variants.

One iteration, for both players at once: (1) a trust-payoff-region step gives the predicted policies
``x_hat, y_hat`` (paper Eq. 2); (2) the 2x2 meta-game between "keep the current policy" and "switch to the
predicted one" (Eq. 5) is solved, giving rho; (3) the weak stable fixed point is the mixture
``x_bar = rho_0 x + (1 - rho_0) x_hat`` (likewise y); (4) each player takes a best-response gradient step
(Eq. 6) against the other's mixture.

`MatrlPaper` follows the paper:

* Predicted step (``predict="proximal"``, default): ``x_hat = argmax_q V0(q, y) - kl_coeff * KL(x || q)``, the
  Lagrangian form of Eq. 2 with D = KL and Table 2's coefficient 100. Because V0 is linear in the player's own
  policy the maximiser solves ``k q^2 + (1 - k) q - x = 0`` with ``k = dV0/dx / kl_coeff`` (see
  :func:`proximal_step`). We solve it exactly instead of running gradient ascent on ``V - c KL``: one
  gradient step from ``q = x`` does not see the penalty at all (its gradient vanishes at ``q = x``), and more
  steps with lr 0.02 diverge (the penalty's curvature ``c / (x (1 - x)) >= 400`` makes
  ``lr * curvature >= 8 > 2``). The step is small, about ``x (1 - x) dV0/dx / kl_coeff``: a natural-gradient
  step of size 1/kl_coeff.
  ``predict="gradient"`` uses the plain projected gradient step ``x + lr dV0/dx`` (no KL) instead.
* Meta-game with exact expected advantages ``V_i(x', y') - V_i(x, y)`` (:func:`exact_meta_game`), solved in
  closed form; among several equilibria one is chosen with ``selection`` (default ``random``, seeded per game
  and iteration, as the paper says: "an equilibrium is randomly selected").
* Mixture projected onto [0, 1] (a no-op up to rounding: it is a convex combination).
* Best response ``x' = Pi(start + br_lr * dV0/dx(y_bar))`` with ``br_lr = 0.03`` (Table 2). ``br_start``
  chooses ``start``: ``current`` (default), ``predicted`` (Algorithm 2's garbled line 15 reads as starting
  from the predicted parameters ``theta_hat``) or ``mixture`` (the official deep trainer runs its
  best-response steps on the aggregated networks, i.e. from ``x_bar``). We start from the current policy
  because the paper's own sec. 3.3 requires it: with rho = (1, 1) MATRL must "degenerate to independent
  learners" and with rho = (0, 0) to policy prediction / extra-gradient, which both step from the current
  policy with the gradient taken at the other's (predicted) policy; the official matrix code does the same.
  Starting from the predicted policy adds a second, stale gradient step: in matching pennies, linearised at
  the equilibrium with rho = (0, 0), it can never converge for any step sizes (|eigenvalue|^2 =
  (1 - 16 lr gamma)^2 + 16 (lr + gamma)^2 > 1), see docs/matrix_games.md.

`MatrlOriginal` reproduces the official code (`IGA_TRPO`) literally, quirks included: the KL term is *added*
to the gradient (``x_hat = clip(x + lr (dV0/dx + 100 KL(x, x + lr dV0/dx)))``), with its KL = 0 on exact 0/1
and NaN outside [0, 1], which the Python ``max(0, min(1, .))`` clip turns into 1.0; the quirky ``A_TR``
meta-game; the last equilibrium nashpy lists; the unclipped mixture plus ``100 KL(x, x_hat)``; the best
response from the current policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

import numpy as np

from matrl.matrixgames.batch import FloatArray, GameBatch, clip_like_python
from matrl.matrixgames.learners import project
from matrl.matrixgames.metagame import (
    SELECTIONS,
    Selection,
    exact_meta_game,
    kl_original,
    original_meta_game,
    solve_meta_game,
    uniform_hash,
)

Predict = Literal["proximal", "gradient"]
BrStart = Literal["current", "predicted", "mixture"]
PREDICTS: Final[tuple[Predict, ...]] = get_args(Predict)
BR_STARTS: Final[tuple[BrStart, ...]] = get_args(BrStart)


@dataclass(frozen=True)
class MatrlIterate:
    """Everything one MATRL iteration computes (the plots draw the trust regions from it)."""

    x: FloatArray
    y: FloatArray
    x_hat: FloatArray
    y_hat: FloatArray
    rho: FloatArray  # (G, 2): probability of keeping the current policy, per player
    x_bar: FloatArray
    y_bar: FloatArray


def proximal_step(p: FloatArray, grad: FloatArray, kl_coeff: float) -> FloatArray:
    """``argmax_{q in [0, 1]} grad * q - kl_coeff * KL(Bernoulli(p) || Bernoulli(q))``.

    Setting the derivative ``grad + kl_coeff (p / q - (1 - p) / (1 - q))`` to zero gives
    ``k q^2 + (1 - k) q - p = 0`` with ``k = grad / kl_coeff``, whose root in [0, 1] is taken in a form free
    of cancellation: ``2p / ((1 - k) + s)`` when ``1 - k > 0``, else ``(s - (1 - k)) / (2k)``, with
    ``s = sqrt((1 - k)^2 + 4kp)``. At ``p`` in {0, 1} this gives the right boundary solutions as well.
    """
    k = np.asarray(grad, dtype=np.float64) / kl_coeff
    one_minus_k = 1.0 - k
    s = np.sqrt(np.maximum(one_minus_k * one_minus_k + 4.0 * k * p, 0.0))
    positive = one_minus_k > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        small = 2.0 * p / np.where(positive, one_minus_k + s, 1.0)
        large = (s - one_minus_k) / np.where(positive, 1.0, 2.0 * k)
    return np.clip(np.where(positive, small, large), 0.0, 1.0)


@dataclass(frozen=True)
class MatrlPaper:
    """MATRL as the paper describes it (see the module docstring for each choice)."""

    kl_coeff: float = 100.0
    br_lr: float = 0.03
    lr: float = 0.02  # only for predict="gradient"
    predict: Predict = "proximal"
    selection: Selection = "random"
    br_start: BrStart = "current"
    name: str = "MATRL"

    def __post_init__(self) -> None:
        if self.predict not in PREDICTS:
            raise ValueError(f"unknown predicted step {self.predict!r}; known: {', '.join(PREDICTS)}")
        if self.br_start not in BR_STARTS:
            raise ValueError(f"unknown best-response start {self.br_start!r}; known: {', '.join(BR_STARTS)}")
        if self.selection not in SELECTIONS:
            raise ValueError(f"unknown selection rule {self.selection!r}; known: {', '.join(SELECTIONS)}")
        if self.kl_coeff <= 0:
            raise ValueError(f"kl_coeff must be > 0, got {self.kl_coeff}")

    def predicted(self, games: GameBatch, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Trust-payoff-region policies (Eq. 2), each against the other's current policy."""
        g0, g1 = games.grad0(y), games.grad1(x)
        if self.predict == "proximal":
            return proximal_step(x, g0, self.kl_coeff), proximal_step(y, g1, self.kl_coeff)
        return project(x + self.lr * g0), project(y + self.lr * g1)

    def iterate(self, games: GameBatch, x: FloatArray, y: FloatArray, t: int) -> MatrlIterate:
        x_hat, y_hat = self.predicted(games, x, y)
        meta = exact_meta_game(games, x, y, x_hat, y_hat)
        uniforms = uniform_hash(games.keys, t) if self.selection == "random" else None
        rho = solve_meta_game(meta, self.selection, uniforms)
        x_bar = project(rho[:, 0] * x + (1.0 - rho[:, 0]) * x_hat)
        y_bar = project(rho[:, 1] * y + (1.0 - rho[:, 1]) * y_hat)
        if self.br_start == "predicted":
            x0, y0 = x_hat, y_hat
        elif self.br_start == "current":
            x0, y0 = x, y
        else:
            x0, y0 = x_bar, y_bar
        x_new = project(x0 + self.br_lr * games.grad0(y_bar))
        y_new = project(y0 + self.br_lr * games.grad1(x_bar))
        return MatrlIterate(x_new, y_new, x_hat, y_hat, rho, x_bar, y_bar)

    def step(self, games: GameBatch, x: FloatArray, y: FloatArray, t: int) -> tuple[FloatArray, FloatArray]:
        it = self.iterate(games, x, y, t)
        return it.x, it.y


@dataclass(frozen=True)
class MatrlOriginal:
    """The official code's `IGA_TRPO`, literally (see the module docstring for its quirks)."""

    lr: float = 0.02
    kl_coeff: float = 100.0
    br_lr: float = 0.03
    name: str = "MATRL"

    def iterate(self, games: GameBatch, x: FloatArray, y: FloatArray, t: int) -> MatrlIterate:
        g0, g1 = games.grad0(y), games.grad1(x)
        x_raw = x + self.lr * g0
        y_raw = y + self.lr * g1
        x_hat = clip_like_python(x + self.lr * (g0 + self.kl_coeff * kl_original(x, x_raw)))
        y_hat = clip_like_python(y + self.lr * (g1 + self.kl_coeff * kl_original(y, y_raw)))
        meta = original_meta_game(games, x, y, x_hat, y_hat)
        rho = solve_meta_game(meta, "last", nashpy_like=True)
        x_bar = rho[:, 0] * x + (1.0 - rho[:, 0]) * x_hat + self.kl_coeff * kl_original(x, x_hat)
        y_bar = rho[:, 1] * y + (1.0 - rho[:, 1]) * y_hat + self.kl_coeff * kl_original(y, y_hat)
        x_new = clip_like_python(x + self.br_lr * games.grad0(y_bar))
        y_new = clip_like_python(y + self.br_lr * games.grad1(x_bar))
        return MatrlIterate(x_new, y_new, x_hat, y_hat, rho, x_bar, y_bar)

    def step(self, games: GameBatch, x: FloatArray, y: FloatArray, t: int) -> tuple[FloatArray, FloatArray]:
        it = self.iterate(games, x, y, t)
        return it.x, it.y
