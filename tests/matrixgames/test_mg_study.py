"""The study: files, table columns, determinism, and the official code's published numbers."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from matrl.matrixgames.games import TABLE1_CATEGORIES
from matrl.matrixgames.reference import CODE_PRINTED_200, CODE_TRUE_1000
from matrl.matrixgames.study import ALGORITHMS, StudyResult, run_study

PNGS = ("fig4_matching_pennies.png", "fig9a_chicken.png", "fig9b_prisoners_dilemma.png")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("variant", ["paper", "original"])
def test_writes_table_and_plots(tmp_path: Path, variant: str) -> None:
    result = run_study(games=4, iterations=150, out=tmp_path, variant=variant, quiet=True)  # type: ignore[arg-type]
    table = tmp_path / "table1.csv"
    assert table.read_text().splitlines()[0] == "category,algorithm,convergence_rate,mean_steps"
    rows = _read(table)
    assert [(r["category"], r["algorithm"]) for r in rows] == [
        (c, a) for c in TABLE1_CATEGORIES for a in ALGORITHMS
    ]
    for row, cell in zip(rows, result.cells, strict=True):
        assert float(row["convergence_rate"]) == pytest.approx(cell.convergence_rate)
        assert 0.0 <= cell.convergence_rate <= 1.0
    for name in PNGS:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / name) in result.files
    assert (tmp_path / "table1_as_printed_by_code.csv").exists() == (variant == "original")
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind


def _steps(result: StudyResult) -> dict[tuple[str, str], np.ndarray]:
    return {(c.category, c.algorithm): c.steps for c in result.cells}


def test_deterministic_and_independent_of_the_game_count(tmp_path: Path) -> None:
    small = run_study(games=6, iterations=400, out=tmp_path / "a", plots=False, quiet=True)
    again = run_study(games=6, iterations=400, out=tmp_path / "b", plots=False, quiet=True)
    large = run_study(games=12, iterations=400, out=tmp_path / "c", plots=False, quiet=True)
    assert (tmp_path / "a" / "table1.csv").read_bytes() == (tmp_path / "b" / "table1.csv").read_bytes()
    for key, steps in _steps(small).items():
        np.testing.assert_array_equal(steps, _steps(again)[key])
        np.testing.assert_array_equal(steps, _steps(large)[key][:6])  # game i is game i, whatever the batch


def test_seed_shifts_the_games(tmp_path: Path) -> None:
    base = run_study(games=8, seed=0, iterations=300, out=tmp_path / "a", plots=False, quiet=True)
    shifted = run_study(games=4, seed=4, iterations=300, out=tmp_path / "b", plots=False, quiet=True)
    for key, steps in _steps(shifted).items():
        np.testing.assert_array_equal(steps, _steps(base)[key][4:])


def test_original_variant_reproduces_the_codes_printed_table(tmp_path: Path) -> None:
    """200 games per category, rates divided by WoLF's converged count, as the official script prints them."""
    result = run_study(games=200, out=tmp_path, variant="original", plots=False, quiet=True)
    for (category, algorithm), (rate, steps) in CODE_PRINTED_200.items():
        cell = result.cell(category, algorithm)
        assert cell.printed_rate == pytest.approx(rate, abs=5e-5)
        assert cell.mean_steps == pytest.approx(steps, abs=5e-3 + 1e-9)


def test_original_variant_reproduces_the_true_rates_on_1000_games(tmp_path: Path) -> None:
    result = run_study(games=1000, out=tmp_path, variant="original", plots=False, quiet=True)
    for (category, algorithm), (rate, steps) in CODE_TRUE_1000.items():
        cell = result.cell(category, algorithm)
        assert cell.convergence_rate == pytest.approx(rate, abs=1e-9)
        assert cell.mean_steps == pytest.approx(steps, abs=5e-3)


def test_dominance_category_is_optional(tmp_path: Path) -> None:
    result = run_study(games=3, iterations=100, out=tmp_path, plots=False, quiet=True, dominance=True)
    assert {c.category for c in result.cells} == {*TABLE1_CATEGORIES, "dominance-solvable"}


def test_bad_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="paper variant only"):
        run_study(games=2, out=tmp_path, variant="original", selection="first", plots=False, quiet=True)
    with pytest.raises(ValueError, match="unknown variant"):
        run_study(games=2, out=tmp_path, variant="both", plots=False, quiet=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        run_study(games=0, out=tmp_path, plots=False, quiet=True)


def test_prints_table_beside_the_papers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_study(games=2, iterations=50, out=tmp_path, plots=False)
    printed = capsys.readouterr().out
    assert "Table 1" in printed and "paper rate" in printed and "86.54" in printed
