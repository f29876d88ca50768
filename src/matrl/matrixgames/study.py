"""The matrix-game study (paper sec. 5, Table 1, Fig. 4, Fig. 9a-b): which learners reach a Nash equilibrium?

For each category (coordination, anti-coordination, cyclic; optionally dominance-solvable) the games are the
original generator's seeds ``seed .. seed + games - 1``; IGA, IGA-PP, WoLF-IGA and MATRL start from the
paper's policies (x = 0.9, y = 0.2) and learn for ``iterations`` updates with exact gradients.

Convergence (the paper's criterion): a game converges at the first update after which ``|x - x*| < 0.05`` and
``|y - y*| < 0.05`` for some Nash equilibrium ``(x*, y*)`` of the true game. The rate is converged games / all
games and the mean steps are averaged over the converged games.

* ``variant="paper"``: steps count updates (1 = converged after the first update).
* ``variant="original"``: the official code's bookkeeping: the step is the 0-based index of the update, a hit
  at index 0 is lost (counted as not converged), distances are compared squared. The rate in ``table1.csv`` is
  still the true rate (over all games); the rate the code *prints*, divided by the number of games in which
  WoLF converged, is given beside it (labelled as such) and in ``table1_as_printed_by_code.csv``.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Literal, get_args

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.table import Table

from matrl.fileio import write_text_atomically
from matrl.matrixgames.batch import GameBatch
from matrl.matrixgames.games import TABLE1_CATEGORIES, Category, random_games, study_seeds
from matrl.matrixgames.learners import IGA, IGAPP, Learner, WoLF
from matrl.matrixgames.metagame import SELECTIONS, Selection
from matrl.matrixgames.reference import PAPER_TABLE1
from matrl.matrixgames.runner import run_learner
from matrl.matrixgames.trust_region import BR_STARTS, PREDICTS, BrStart, MatrlOriginal, MatrlPaper, Predict

Variant = Literal["paper", "original"]
VARIANTS: Final[tuple[Variant, ...]] = get_args(Variant)
ALGORITHMS: Final[tuple[str, ...]] = ("IGA", "IGA-PP", "WoLF", "MATRL")
TABLE1_COLUMNS: Final[tuple[str, ...]] = ("category", "algorithm", "convergence_rate", "mean_steps")


@dataclass(frozen=True)
class CellResult:
    """One (category, algorithm) cell of Table 1.

    Attributes:
        steps: (games,) convergence step of every game, -1 where it did not converge.
        printed_rate: original variant only: converged / games in which WoLF converged (the code's print).
    """

    category: str
    algorithm: str
    games: int
    converged: int
    convergence_rate: float
    mean_steps: float
    steps: NDArray[np.int64]
    printed_rate: float | None = None


@dataclass(frozen=True)
class StudyResult:
    """Everything `run_study` measured, plus where it wrote its files."""

    variant: Variant
    games: int
    seed: int
    iterations: int
    cells: tuple[CellResult, ...]
    seconds: float
    files: tuple[Path, ...]

    def cell(self, category: str, algorithm: str) -> CellResult:
        """The cell of one category and algorithm."""
        for cell in self.cells:
            if cell.category == category and cell.algorithm == algorithm:
                return cell
        raise KeyError((category, algorithm))


def learners_for(
    variant: Variant,
    *,
    baseline_lr: float = 0.02,
    selection: Selection = "random",
    br_start: BrStart = "current",
    predict: Predict = "proximal",
) -> tuple[Learner, ...]:
    """IGA, IGA-PP, WoLF and MATRL as each variant configures them.

    The baselines use lr ``baseline_lr`` (0.02 in the official code; 0.03 = MATRL's BR lr for the ablation),
    IGA-PP predicts with gamma 0.01. WoLF's lr_min is 0.02 in the paper (Table 2) and 0.01 in the code.
    """
    wolf = WoLF(lr_min=0.02 if variant == "paper" else 0.01, lr_max=0.06)
    matrl: Learner
    if variant == "paper":
        matrl = MatrlPaper(selection=selection, br_start=br_start, predict=predict)
    else:
        matrl = MatrlOriginal()
    return IGA(lr=baseline_lr), IGAPP(lr=baseline_lr, gamma=0.01), wolf, matrl


def game_keys(category_index: int, seeds: NDArray[np.int64], selection_seed: int) -> NDArray[np.uint64]:
    """Per-game keys of the seeded random choices: distinct per (selection seed, category, game seed)."""
    base = (selection_seed % 2**16) << 48 | (category_index % 2**8) << 40
    return (seeds.astype(np.uint64) & np.uint64(2**40 - 1)) | np.uint64(base)


def _steps(hit: NDArray[np.int64], variant: Variant) -> NDArray[np.int64]:
    """Convergence steps from 0-based hit indices (-1 = not converged), with each variant's bookkeeping.

    Paper: the number of updates (index + 1). Original: the index itself, and a hit at index 0 is lost.
    """
    if variant == "paper":
        return np.where(hit >= 0, hit + 1, -1)
    return np.where(hit > 0, hit, -1)


def _cell(category: str, algorithm: str, steps: NDArray[np.int64]) -> CellResult:
    converged = steps >= 0
    count = int(converged.sum())
    mean = float(steps[converged].mean()) if count else float("nan")
    rate = count / steps.size if steps.size else float("nan")
    return CellResult(category, algorithm, int(steps.size), count, rate, mean, steps)


@contextmanager
def _progress(console: Console, enabled: bool, total: int) -> Iterator[Callable[[str, int], None]]:
    """A light progress bar on a terminal; a no-op elsewhere (pipes, CI logs)."""
    if not enabled or not console.is_terminal:
        yield lambda label, advance: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task("matrix games", total=total)

        def advance(label: str, steps: int) -> None:
            bar.update(task, advance=steps, description=label)

        yield advance


def _csv_text(rows: list[list[object]], header: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _fmt(value: float, digits: int) -> str:
    return "-" if value != value else f"{value:.{digits}f}"


def table1_rich(result: StudyResult) -> Table:
    """Table 1 of the study beside the paper's numbers, as a rich table."""
    original = result.variant == "original"
    title = (
        f"Table 1 - variant {result.variant}: {result.games} games per category, "
        f"{result.iterations} iterations (rate / mean steps)"
    )
    caption = "rate = converged / all games; steps = mean over converged games"
    if original:
        caption += "; printed rate = what the official code prints: converged / games WoLF converged in"
    table = Table(title=title, caption=caption)
    columns = ["category", "algorithm", "rate", "steps", "paper rate", "paper steps"]
    if original:
        columns.append("printed rate")
    for column in columns:
        table.add_column(
            column, justify="left" if column in ("category", "algorithm") else "right", no_wrap=True
        )
    for cell in result.cells:
        paper = PAPER_TABLE1.get((cell.category, cell.algorithm), (float("nan"), float("nan")))
        row = [
            cell.category,
            cell.algorithm,
            _fmt(cell.convergence_rate, 3),
            _fmt(cell.mean_steps, 2),
            _fmt(paper[0], 4),
            _fmt(paper[1], 2),
        ]
        if original:
            row.append(_fmt(cell.printed_rate if cell.printed_rate is not None else float("nan"), 4))
        table.add_row(*row)
    return table


def measure(
    learners: Sequence[Learner],
    categories: Sequence[Category],
    seeds: NDArray[np.int64],
    *,
    variant: Variant,
    iterations: int,
    selection_seed: int = 0,
    advance: Callable[[str, int], None] | None = None,
) -> list[CellResult]:
    """Run every learner on every category's games; one `CellResult` per (category, learner).

    ``variant`` sets the bookkeeping (equilibrium list, distance test, step counting, printed rate), not the
    learners, so ablations can pass any learners. In the original bookkeeping a hit at update index 0 counts
    as "not converged"; IGA, IGA-PP and MATRL stop there (and so never converge), while the official WoLF
    loop keeps going and records its first hit at index >= 1, which we reproduce.
    """
    cells: list[CellResult] = []
    for index, category in enumerate(categories):
        batch = GameBatch.from_payoffs(
            random_games(category, seeds),
            game_keys(index, seeds, selection_seed),
            nashpy_like=variant == "original",
        )
        category_cells: list[CellResult] = []
        for learner in learners:
            label = f"{category} / {learner.name}"
            calls = [0]

            def tick(t: int, active: int, label: str = label, calls: list[int] = calls) -> None:
                calls[0] += 1
                if advance is not None:
                    advance(label, 1)

            result = run_learner(
                learner,
                batch,
                iterations,
                squared_distance=variant == "original",
                first_counted=1 if variant == "original" and isinstance(learner, WoLF) else 0,
                on_iteration=tick,
            )
            if advance is not None:
                advance(label, iterations - calls[0])
            category_cells.append(_cell(category, learner.name, _steps(result.hit, variant)))
        if variant == "original" and any(c.algorithm == "WoLF" for c in category_cells):
            wolf = next(c for c in category_cells if c.algorithm == "WoLF").converged
            category_cells = [
                replace(c, printed_rate=c.converged / wolf if wolf else float("nan")) for c in category_cells
            ]
        cells.extend(category_cells)
    return cells


def run_study(
    games: int = 1000,
    seed: int = 0,
    out: Path = Path("runs/matrix-games"),
    iterations: int = 1000,
    variant: Variant = "paper",
    plots: bool = True,
    selection: Selection = "random",
    br_start: BrStart = "current",
    predict: Predict = "proximal",
    baseline_lr: float = 0.02,
    selection_seed: int = 0,
    dominance: bool = False,
    quiet: bool = False,
) -> StudyResult:
    """Run the matrix-game study (paper Table 1, Fig. 4, Fig. 9a-b) and write its table and plots.

    Args:
        games: Number of random games per category; the games are the generator seeds seed..seed+games-1.
        seed: First game seed of every category.
        out: Output directory for table1.csv and the PNG plots (created if missing).
        iterations: Learning updates per game; a game converges when within 0.05 of a Nash equilibrium.
        variant: 'paper' follows the paper's equations; 'original' reproduces the official code, quirks too.
        plots: Also draw Fig. 4 (matching pennies) and Fig. 9a-b (chicken, prisoners' dilemma) as PNG.
        selection: Paper variant: which meta-game equilibrium MATRL uses (random, first, last, welfare).
        br_start: Paper variant: where MATRL's best-response step starts (current, predicted, mixture).
        predict: Paper variant: MATRL's predicted step, KL-penalised argmax (proximal) or plain gradient step.
        baseline_lr: Learning rate of IGA and IGA-PP (0.02 as in the code; 0.03 for the BR-lr ablation).
        selection_seed: Seed of MATRL's random equilibrium selection (paper variant, selection=random).
        dominance: Also run the dominance-solvable category (the official code does; the paper does not).
        quiet: Print nothing (no table, no progress bar).

    Returns:
        The per-cell results, the wall time and the paths of the files written.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    if games < 1 or iterations < 1:
        raise ValueError(f"games and iterations must be >= 1, got games={games}, iterations={iterations}")
    if selection not in SELECTIONS or br_start not in BR_STARTS or predict not in PREDICTS:
        raise ValueError(
            f"bad MATRL option: selection={selection!r}, br_start={br_start!r}, predict={predict!r}"
        )
    if variant == "original" and (selection, br_start, predict) != ("random", "current", "proximal"):
        raise ValueError("selection, br_start and predict apply to the paper variant only")
    start = time.perf_counter()
    console = Console(quiet=quiet)
    if not console.is_terminal:
        console = Console(quiet=quiet, width=120)  # logs and pipes: wide enough for the whole table
    categories: tuple[Category, ...] = (
        (*TABLE1_CATEGORIES, "dominance-solvable") if dominance else TABLE1_CATEGORIES
    )
    learners = learners_for(
        variant, baseline_lr=baseline_lr, selection=selection, br_start=br_start, predict=predict
    )
    total = len(categories) * len(learners) * iterations
    with _progress(console, not quiet, total) as advance:
        cells = measure(
            learners,
            categories,
            study_seeds(games, seed),
            variant=variant,
            iterations=iterations,
            selection_seed=selection_seed,
            advance=advance,
        )

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "table1.csv"]
    rows: list[list[object]] = [
        [c.category, c.algorithm, round(c.convergence_rate, 6), round(c.mean_steps, 4)] for c in cells
    ]
    write_text_atomically(files[0], _csv_text(rows, TABLE1_COLUMNS))
    if variant == "original":
        printed = out / "table1_as_printed_by_code.csv"
        printed_rows: list[list[object]] = [
            [
                c.category,
                c.algorithm,
                round(c.printed_rate if c.printed_rate is not None else float("nan"), 6),
                round(c.mean_steps, 4),
            ]
            for c in cells
        ]
        write_text_atomically(printed, _csv_text(printed_rows, TABLE1_COLUMNS))
        files.append(printed)
    if plots:
        from matrl.matrixgames.plots import draw_all

        files.extend(draw_all(out, learners, iterations))
    result_obj = StudyResult(
        variant, games, seed, iterations, tuple(cells), time.perf_counter() - start, tuple(files)
    )
    if not quiet:
        console.print(table1_rich(result_obj))
        console.print(f"wrote {', '.join(str(f) for f in files)} in {result_obj.seconds:.1f} s")
    return result_obj
