"""Figures of the matrix-game study: Fig. 4 (matching pennies) and Fig. 9a-b (chicken, prisoners' dilemma).

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global backend switch), each file
written atomically (temp file in the same directory, then ``os.replace``).

Fig. 4 draws, in the joint policy space (x = P(player 1 plays action 0), y = P(player 2 plays action 0)):

* the joint gradient field ``(dV0/dx, dV1/dy)`` as arrows (the "trust payoff direction");
* the trajectories of IGA and of MATRL from (0.9, 0.2), and the Nash equilibrium as a star;
* the trust stable region of every MATRL iteration, shaded: the rectangle ``[x, x_hat] x [y, y_hat]``
  spanned by the current and predicted policies. It is the restricted game of the paper's Definition 1, i.e.
  the set of aggregated policies ``(rho_0 x + (1 - rho_0) x_hat, rho_1 y + (1 - rho_1) y_hat)`` that the
  meta-game Nash can select; the selected point ``(x_bar, y_bar)`` lies in it, and the best response is
  taken against it.

Fig. 9 draws the four learners' trajectories on one game (left) and their distance to the nearest Nash
equilibrium per iteration, with the 0.05 convergence threshold (right).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from matrl.fileio import write_atomically
from matrl.gametheory import equilibria_2x2
from matrl.matrixgames.batch import FloatArray, GameBatch
from matrl.matrixgames.games import named_game
from matrl.matrixgames.learners import Learner
from matrl.matrixgames.runner import X0, Y0, trajectory
from matrl.matrixgames.trust_region import MatrlIterate, MatrlOriginal, MatrlPaper

_COLOURS = {"IGA": "tab:orange", "IGA-PP": "tab:green", "WoLF": "tab:purple", "MATRL": "tab:blue"}
_FIG9_HORIZON = 200  # chicken and the prisoners' dilemma settle within a few dozen updates


def save_figure(fig: Figure, path: Path) -> Path:
    """Save a figure as PNG atomically."""
    return write_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))


def _single(name: str) -> GameBatch:
    return GameBatch.from_payoffs(named_game(name)[None], nashpy_like=False)


def _gradient_field(ax: Axes, games: GameBatch, points: int = 15) -> None:
    """Arrows of the joint gradient (dV0/dx, dV1/dy) of a one-game batch on a grid of policies."""
    grid = np.linspace(0.0, 1.0, points)
    gx, gy = np.meshgrid(grid, grid)
    copies = games.take(np.zeros(gx.size, dtype=np.intp))
    u = copies.grad0(gy.ravel()).reshape(gx.shape)
    v = copies.grad1(gx.ravel()).reshape(gx.shape)
    ax.quiver(gx, gy, u, v, color="tab:blue", alpha=0.35, width=0.003)


def _equilibria(name: str) -> list[FloatArray]:
    return equilibria_2x2(named_game(name))


def _matrl_run(
    learner: MatrlPaper | MatrlOriginal, games: GameBatch, iterations: int
) -> tuple[FloatArray, FloatArray, list[MatrlIterate]]:
    """MATRL's trajectory (iterations + 1 points) and every iteration's details, on a one-game batch."""
    xs, ys = np.empty(iterations + 1), np.empty(iterations + 1)
    xs[0], ys[0] = X0, Y0
    iterates = []
    for t in range(iterations):
        it = learner.iterate(games, xs[t : t + 1], ys[t : t + 1], t)
        iterates.append(it)
        xs[t + 1], ys[t + 1] = it.x[0], it.y[0]
    return xs, ys, iterates


def _setup_square(ax: Axes, title: str) -> None:
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("x = P(player 1 plays action 0)")
    ax.set_ylabel("y = P(player 2 plays action 0)")
    ax.set_title(title)


def _matching_pennies_panel(
    ax: Axes, games: GameBatch, iga: Learner, matrl: MatrlPaper | MatrlOriginal, iterations: int, title: str
) -> None:
    _setup_square(ax, title)
    _gradient_field(ax, games)
    mx, my, iterates = _matrl_run(matrl, games, iterations)
    boxes = [
        [(x, y), (it.x_hat[0], y), (it.x_hat[0], it.y_hat[0]), (x, it.y_hat[0])]
        for x, y, it in zip(mx[:-1], my[:-1], iterates, strict=True)
    ]
    ax.add_collection(PolyCollection(boxes, facecolors="lightskyblue", edgecolors="lightskyblue", alpha=0.5))
    xs, ys = trajectory(iga, games, iterations)
    ax.plot(xs[:, 0], ys[:, 0], color=_COLOURS["IGA"], lw=0.9, label="IGA")
    ax.plot(mx, my, color=_COLOURS["MATRL"], lw=1.2, label="MATRL")
    ax.plot([X0], [Y0], "ko", ms=5, label="start (0.9, 0.2)")
    for ne in _equilibria("matching_pennies"):
        ax.plot(
            [ne[0]], [ne[1]], marker="*", color="red", ms=16, ls="none", label="Nash equilibrium", zorder=5
        )


#: Fig. 4's second panel: MATRL whose predicted step is one plain gradient step (lr 0.02) and whose best
#: response starts from the current policy; unlike the KL-penalised default, it converges on matching pennies.
CONVERGENT_ON_PENNIES = MatrlPaper(predict="gradient", br_start="current")


def draw_matching_pennies(
    path: Path, iga: Learner, matrl: MatrlPaper | MatrlOriginal, iterations: int
) -> Path:
    """Fig. 4: gradient field, IGA and MATRL trajectories, the NE and MATRL's trust stable regions.

    Left: the study's MATRL. Right: `CONVERGENT_ON_PENNIES`, the configuration that reaches the equilibrium
    as the paper's Fig. 4 shows (with Table 2's KL coefficient as a real penalty the predicted step is too
    short to stabilise the best-response step, see docs/matrix_games.md).
    """
    games = _single("matching_pennies")
    fig = Figure(figsize=(13.0, 6.6))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    name = (
        "original code" if isinstance(matrl, MatrlOriginal) else f"{matrl.predict} / BR from {matrl.br_start}"
    )
    _matching_pennies_panel(left, games, iga, matrl, iterations, f"MATRL ({name}), {iterations} updates")
    _matching_pennies_panel(
        right,
        games,
        iga,
        CONVERGENT_ON_PENNIES,
        iterations,
        f"MATRL (gradient / BR from current), {iterations} updates",
    )
    fig.suptitle("Matching pennies from (0.9, 0.2): IGA vs MATRL (arrows: joint gradient)")
    handles, labels = left.get_legend_handles_labels()
    handles.append(Patch(color="lightskyblue", alpha=0.5))
    labels.append("trust stable region: [x, x_hat] x [y, y_hat] of each MATRL step")
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=9)
    fig.tight_layout(rect=(0.0, 0.07, 1.0, 0.97))
    return save_figure(fig, path)


def draw_game_trajectories(path: Path, name: str, learners: Sequence[Learner], iterations: int) -> Path:
    """Fig. 9: each learner's trajectory on one named game (left) and its policies over the updates (right).

    The time axis stops shortly after the last learner has settled (at most 200 updates).
    """
    games = _single(name)
    runs = {learner.name: trajectory(learner, games, min(iterations, _FIG9_HORIZON)) for learner in learners}
    moving = [
        np.flatnonzero(np.abs(np.diff(xs[:, 0])) + np.abs(np.diff(ys[:, 0])) > 1e-6)
        for xs, ys in runs.values()
    ]
    settled = max((int(m[-1]) + 1 if m.size else 0) for m in moving)
    horizon = min(iterations, _FIG9_HORIZON, max(20, int(1.5 * settled)))
    fig = Figure(figsize=(12.5, 5.4))
    ax, ax_t = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    _setup_square(ax, f"{name.replace('_', ' ')}: trajectories from (0.9, 0.2)")
    _gradient_field(ax, games)
    steps = np.arange(horizon + 1)
    for learner_name, (xs, ys) in runs.items():
        colour = _COLOURS.get(learner_name)
        ax.plot(
            xs[: horizon + 1, 0],
            ys[: horizon + 1, 0],
            color=colour,
            lw=1.2,
            marker=".",
            ms=3,
            label=learner_name,
        )
        ax_t.plot(steps, xs[: horizon + 1, 0], color=colour, lw=1.3, label=f"{learner_name}: x")
        ax_t.plot(steps, ys[: horizon + 1, 0], color=colour, lw=1.3, ls="--", label=f"{learner_name}: y")
    for k, ne in enumerate(_equilibria(name)):
        label = "Nash equilibria" if k == 0 else None
        ax.plot([ne[0]], [ne[1]], marker="*", color="red", ms=14, ls="none", label=label, clip_on=False)
    ax.plot([X0], [Y0], "ko", ms=5)
    ax.legend(loc="best", fontsize=8)
    ax_t.set_ylim(-0.03, 1.03)
    ax_t.set_xlabel("update")
    ax_t.set_ylabel("P(action 0)")
    ax_t.set_title("policies over the updates (x solid, y dashed)")
    ax_t.legend(fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    return save_figure(fig, path)


def draw_all(out: Path, learners: Sequence[Learner], iterations: int) -> list[Path]:
    """The study's three figures, in ``out``; ``learners`` are IGA, IGA-PP, WoLF and MATRL."""
    by_name = {learner.name: learner for learner in learners}
    matrl = by_name["MATRL"]
    if not isinstance(matrl, MatrlPaper | MatrlOriginal):
        raise TypeError("the MATRL learner must expose its iterates")
    return [
        draw_matching_pennies(out / "fig4_matching_pennies.png", by_name["IGA"], matrl, iterations),
        draw_game_trajectories(out / "fig9a_chicken.png", "chicken", learners, iterations),
        draw_game_trajectories(
            out / "fig9b_prisoners_dilemma.png", "prisoners_dilemma", learners, iterations
        ),
    ]
