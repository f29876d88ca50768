"""Benchmark of the matrix-game study: wall times and Table 1 for both variants, ablations, MATRL options.

Runs the full study (default 1000 games per category, 1000 iterations) for the `paper` and the `original`
variant, the learning-rate ablation (IGA and IGA-PP with MATRL's best-response lr 0.03), a sweep of the paper
variant's MATRL options and statistics of its meta-game; prints everything and writes
docs/benchmarks/matrix_games.md.

    .venv/bin/python benchmarks/matrix_games.py [--games 1000] [--iterations 1000] [--out DIR]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np
from rich.console import Console

from machine import describe_machine
from matrl.fileio import write_text_atomically
from matrl.gametheory import equilibria_2x2_batch
from matrl.matrixgames.batch import GameBatch
from matrl.matrixgames.games import TABLE1_CATEGORIES, random_games, study_seeds
from matrl.matrixgames.metagame import SELECTIONS, exact_meta_game
from matrl.matrixgames.reference import CODE_PRINTED_200, CODE_TRUE_1000, PAPER_TABLE1
from matrl.matrixgames.study import ALGORITHMS, CellResult, StudyResult, game_keys, measure, run_study
from matrl.matrixgames.trust_region import BR_STARTS, PREDICTS, MatrlPaper

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks" / "matrix_games.md"
console = Console(width=130)


def shown(path: Path) -> str:
    """A path as written in the report: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def cell_text(cell: CellResult) -> str:
    steps = "-" if cell.mean_steps != cell.mean_steps else f"{cell.mean_steps:.2f}"
    return f"{cell.convergence_rate:.3f} / {steps}"


def ref_text(table: dict[tuple[str, str], tuple[float, float]], key: tuple[str, str]) -> str:
    if key not in table:
        return "-"
    rate, steps = table[key]
    return f"{rate:g} / {steps:.2f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def study_table(result: StudyResult) -> str:
    """Rows = algorithms, columns = categories, with the paper's and the official code's numbers beside."""
    rows = []
    for algorithm in ALGORITHMS:
        row = [f"**{algorithm}** (ours)"]
        row += [cell_text(result.cell(c, algorithm)) for c in TABLE1_CATEGORIES]
        rows.append(row)
    for algorithm in ("IGA", "IGA-PP", "MATRL"):
        rows.append(
            [f"{algorithm} (paper Table 1)"]
            + [ref_text(PAPER_TABLE1, (c, algorithm)) for c in TABLE1_CATEGORIES]
        )
    for algorithm in ("IGA", "IGA-PP", "MATRL"):
        rows.append(
            [f"{algorithm} (official code, true rate, 1000 games)"]
            + [ref_text(CODE_TRUE_1000, (c, algorithm)) for c in TABLE1_CATEGORIES]
        )
    if result.variant == "original":
        for algorithm in ALGORITHMS:
            printed = []
            for c in TABLE1_CATEGORIES:
                cell = result.cell(c, algorithm)
                printed.append(f"{cell.printed_rate:.4f} / {cell.mean_steps:.2f}")
            rows.append([f"{algorithm} (ours, rate as the code prints it: / WoLF-converged)", *printed])
    return markdown_table(["rate / mean steps", *TABLE1_CATEGORIES], rows)


def targets(result: StudyResult) -> str:
    lines = []
    for c in TABLE1_CATEGORIES:
        m = result.cell(c, "MATRL")
        ok = all(
            m.convergence_rate >= result.cell(c, b).convergence_rate
            and m.mean_steps < result.cell(c, b).mean_steps
            for b in ("IGA", "IGA-PP")
        )
        lines.append(
            f"- {c}: MATRL {cell_text(m)} vs IGA {cell_text(result.cell(c, 'IGA'))}, "
            f"IGA-PP {cell_text(result.cell(c, 'IGA-PP'))}: "
            f"{'MATRL rate >= both and fewer steps' if ok else '**target missed**'}"
        )
    return "\n".join(lines)


@dataclass
class MetaStats:
    iterations: int = 0
    multiple: int = 0  # the meta-game has several equilibria
    distinct: int = 0  # ... that lead to different aggregated policies (x_bar, y_bar)
    keeps: int = (
        0  # the selected rho keeps some of a player's current policy that differs from its prediction
    )
    mixed: int = 0  # the selected rho is strictly mixed for some player


def meta_game_statistics(games: int, iterations: int) -> dict[str, MetaStats]:
    """How often the paper variant's meta-game has several equilibria, and how often rho is not (0, 0)."""
    learner = MatrlPaper()
    seeds = study_seeds(games)
    stats: dict[str, MetaStats] = {}
    for index, category in enumerate(TABLE1_CATEGORIES):
        batch = GameBatch.from_payoffs(
            random_games(category, seeds), game_keys(index, seeds, 0), nashpy_like=False
        )
        x, y = np.full(games, 0.9), np.full(games, 0.2)
        s = MetaStats()
        for t in range(iterations):
            if len(batch) == 0:
                break
            it = learner.iterate(batch, x, y, t)
            profiles, valid = equilibria_2x2_batch(exact_meta_game(batch, x, y, it.x_hat, it.y_hat))
            x_bar = profiles[..., 0] * x[:, None] + (1 - profiles[..., 0]) * it.x_hat[:, None]
            y_bar = profiles[..., 1] * y[:, None] + (1 - profiles[..., 1]) * it.y_hat[:, None]
            spread = [np.where(valid, v, np.nan) for v in (x_bar, y_bar)]
            differ = [(np.nanmax(v, axis=1) - np.nanmin(v, axis=1)) > 1e-12 for v in spread]
            moved = np.stack([it.x_hat != x, it.y_hat != y], axis=1)
            s.iterations += len(batch)
            s.multiple += int((valid.sum(axis=1) > 1).sum())
            s.distinct += int((differ[0] | differ[1]).sum())
            s.keeps += int(np.any((it.rho > 0.0) & moved, axis=1).sum())
            s.mixed += int(np.any((it.rho > 0.0) & (it.rho < 1.0), axis=1).sum())
            keep = np.flatnonzero(~batch.converged(it.x, it.y, 0.05, False))
            batch, x, y = batch.take(keep), it.x[keep], it.y[keep]
        stats[category] = s
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=1000, help="games per category")
    parser.add_argument("--iterations", type=int, default=1000, help="updates per game")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "runs" / "bench-matrix-games", help="study outputs"
    )
    parser.add_argument("--doc", type=Path, default=DOC, help="markdown report to write")
    args = parser.parse_args()
    games, iterations = args.games, args.iterations
    sections: list[str] = []

    results: dict[str, StudyResult] = {}
    walls: dict[str, float] = {}
    for variant in ("paper", "original"):
        start = time.perf_counter()
        results[variant] = run_study(
            games=games,
            iterations=iterations,
            out=args.out / variant,
            variant=variant,
            quiet=True,  # type: ignore[arg-type]
        )
        walls[variant] = time.perf_counter() - start
        console.print(f"[bold]{variant}[/bold] variant: full study with plots in {walls[variant]:.1f} s")
        console.print(study_table(results[variant]))

    ablation: dict[str, StudyResult] = {}
    for variant in ("paper", "original"):
        ablation[variant] = run_study(
            games=games,
            iterations=iterations,
            out=args.out / f"{variant}-baseline-lr-0.03",
            variant=variant,  # type: ignore[arg-type]
            baseline_lr=0.03,
            plots=False,
            quiet=True,
        )
    ablation_rows = []
    for variant, result in ablation.items():
        for algorithm in ("IGA", "IGA-PP", "MATRL"):
            label = "MATRL (BR lr 0.03, unchanged)" if algorithm == "MATRL" else f"{algorithm} (lr 0.03)"
            ablation_rows.append(
                [variant, label] + [cell_text(result.cell(c, algorithm)) for c in TABLE1_CATEGORIES]
            )
    console.print(markdown_table(["variant", "algorithm", *TABLE1_CATEGORIES], ablation_rows))

    sweep_rows = []
    seeds = study_seeds(games)
    options = [(p, b, "random") for p, b in product(PREDICTS, BR_STARTS)]
    options += [("proximal", "current", s) for s in SELECTIONS if s != "random"]
    sweep_start = time.perf_counter()
    for predict, br_start, selection in options:
        learner = MatrlPaper(predict=predict, br_start=br_start, selection=selection)  # type: ignore[arg-type]
        cells = measure([learner], TABLE1_CATEGORIES, seeds, variant="paper", iterations=iterations)
        default = " (default)" if (predict, br_start, selection) == ("proximal", "current", "random") else ""
        sweep_rows.append([f"{predict} / {br_start} / {selection}{default}"] + [cell_text(c) for c in cells])
    sweep_seconds = time.perf_counter() - sweep_start
    console.print(markdown_table(["predict / br_start / selection", *TABLE1_CATEGORIES], sweep_rows))

    stats = meta_game_statistics(games, iterations)
    stats_rows = [
        [c, f"{s.iterations}"]
        + [f"{n / max(s.iterations, 1):.3%}" for n in (s.multiple, s.distinct, s.keeps, s.mixed)]
        for c, s in stats.items()
    ]
    stats_header = [
        "category",
        "MATRL iterations",
        "several meta NE",
        "... giving different (x_bar, y_bar)",
        "rho keeps part of a moved policy",
        "mixed rho",
    ]
    console.print(markdown_table(stats_header, stats_rows))

    command = "`.venv/bin/python benchmarks/matrix_games.py" + (
        f" --games {games} --iterations {iterations}`" if (games, iterations) != (1000, 1000) else "`"
    )
    sections.append(
        "# Matrix-game study: benchmark\n\n"
        "Generated by `benchmarks/matrix_games.py`; the discussion of these numbers is in "
        "[../matrix_games.md](../matrix_games.md).\n\n"
        f"- Command: {command} (the study alone: "
        f"`matrl matrix-games --games {games} --variant paper|original`)\n"
        f"- Machine: {describe_machine()}\n"
        f"- Games: {games} per category (seeds 0..{games - 1}), {iterations} iterations, start (0.9, 0.2), "
        "converged = within 0.05 of a Nash equilibrium in both coordinates.\n"
        "- Rate = converged games / all games; steps = mean over the converged games. "
        f"Plots: `{shown(args.out)}/<variant>/`.\n"
    )
    sections.append(
        "## Wall time (full study: 3 categories x 4 learners, table + 3 PNG plots, one process)\n\n"
        + markdown_table(
            ["variant", "wall time"],
            [[v, f"{walls[v]:.1f} s"] for v in walls],
        )
        + "\n"
    )
    for variant, result in results.items():
        sections.append(
            f"## Table 1, `{variant}` variant\n\n" + study_table(result) + "\n\n" + targets(result) + "\n"
        )
    sections.append(
        "## Ablation: baselines with MATRL's best-response learning rate (IGA, IGA-PP lr 0.03)\n\n"
        + markdown_table(["variant", "algorithm", *TABLE1_CATEGORIES], ablation_rows)
        + "\n"
    )
    sections.append(
        f"## MATRL options (`paper` variant; {sweep_seconds:.0f} s for the sweep)\n\n"
        + markdown_table(["predict / br_start / selection", *TABLE1_CATEGORIES], sweep_rows)
        + "\n"
    )
    sections.append(
        "## The paper variant's meta-game (default options), over MATRL iterations until convergence\n\n"
        + markdown_table(stats_header, stats_rows)
        + "\n"
    )
    sections.append(
        "## Reference: what the official code prints (200 games, rate / WoLF-converged)\n\n"
        + markdown_table(
            ["algorithm", *TABLE1_CATEGORIES],
            [[a] + [ref_text(CODE_PRINTED_200, (c, a)) for c in TABLE1_CATEGORIES] for a in ALGORITHMS],
        )
        + "\n"
    )
    write_text_atomically(args.doc, "\n".join(sections))
    console.print(f"wrote {args.doc}")


if __name__ == "__main__":
    main()
