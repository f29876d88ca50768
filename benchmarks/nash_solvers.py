"""Speed and accuracy of the meta-game Nash solvers, through the entry point MATRL calls (`solve`).

For n = 2..5 players: 200 random games with payoffs U[-1, 1] and 100 with payoffs in {-1, 0, 1} (ties,
degenerate games), as in ../shared/reference/anchors.md. Solvers: exact support enumeration returning the
first equilibrium (``selection="first"``) and enumerating all of them (the default ``closest_to_current``),
CMA-ES (the paper's solver, polished, on fewer games), CMA-ES with the paper's settings (no polishing,
stop at squared regret 1e-10, no restarts), and the fallback dynamics (replicator, fictitious play). A
*failure* is a profile whose regret exceeds 1e-9 times the payoff scale (or a fallback). NashConv is
reported relative to the payoff scale.

    .venv/bin/python benchmarks/nash_solvers.py          # 1-2 min, writes docs/benchmarks/nash_solvers.md
    .venv/bin/python benchmarks/nash_solvers.py --quick  # a smoke run, prints only
"""

from __future__ import annotations

import argparse
import datetime
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from machine import describe_machine
from matrl.gametheory import cma_es, is_equilibrium, nash_conv, payoff_scale, solve

ROOT = Path(__file__).resolve().parents[1]
PLAYERS = (2, 3, 4, 5)


@dataclass
class Row:
    solver: str
    payoffs: str
    n: int
    games: int
    median_ms: float
    p95_ms: float
    median_nash_conv: float
    max_nash_conv: float
    failures: int
    mean_equilibria: float | None


def make_games(kind: str, n: int, count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (n,) + (2,) * n
    if kind == "U[-1,1]":
        return [rng.uniform(-1.0, 1.0, size=shape) for _ in range(count)]
    return [rng.integers(-1, 2, size=shape).astype(np.float64) for _ in range(count)]


Call = Callable[[np.ndarray, int], tuple[np.ndarray, bool, int | None, float]]


def run(solver: str, call: Call, kind: str, n: int, count: int) -> Row:
    games = make_games(kind, n, count, seed=1000 * n + (0 if kind == "U[-1,1]" else 1))
    times, convs, counts, failures = [], [], [], 0
    for index, game in enumerate(games):
        profile, ok, found, seconds = call(game, index)
        times.append(seconds)
        scale = float(payoff_scale(game))
        convs.append(float(nash_conv(game, profile)) / scale if scale > 0 else 0.0)
        failures += int(not ok)
        if found is not None:
            counts.append(found)
    ms = 1e3 * np.asarray(times)
    return Row(
        solver,
        kind,
        n,
        count,
        float(np.median(ms)),
        float(np.percentile(ms, 95)),
        float(np.median(convs)),
        max(convs),
        failures,
        float(np.mean(counts)) if counts else None,
    )


def via_solve(**kwargs: object) -> Call:
    def call(game: np.ndarray, index: int) -> tuple[np.ndarray, bool, int | None, float]:
        rng = np.random.default_rng(index)
        start = time.perf_counter()
        result = solve(game, rng=rng, fallbacks=(), **kwargs)  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
        ok = result.verified and not result.fallback
        return np.asarray(result.profile), ok, result.num_equilibria, seconds

    return call


def cma_paper(game: np.ndarray, index: int) -> tuple[np.ndarray, bool, int | None, float]:
    rng = np.random.default_rng(index)
    start = time.perf_counter()
    profile = cma_es(game, rng, polish=False, restarts=0, ftarget=1e-10)
    seconds = time.perf_counter() - start
    return profile, bool(is_equilibrium(game, profile)), None, seconds


def fmt(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def tables(rows: list[Row]) -> str:
    lines = [
        "| solver | payoffs | n | games | median ms | p95 ms | NashConv/scale: median, max | failed | #NE |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        found = "-" if r.mean_equilibria is None else f"{r.mean_equilibria:.2f}"
        lines.append(
            f"| {r.solver} | {r.payoffs} | {r.n} | {r.games} | {fmt(r.median_ms)} | {fmt(r.p95_ms)} | "
            f"{r.median_nash_conv:.0e}, {r.max_nash_conv:.0e} | {r.failures} | {found} |"
        )
    summary = ["| solver (median ms per solve, U[-1,1]) | " + " | ".join(f"n={n}" for n in PLAYERS) + " |"]
    summary.append("| --- |" + " --- |" * len(PLAYERS))
    for solver in dict.fromkeys(r.solver for r in rows):
        cells = [
            next(
                (
                    fmt(r.median_ms)
                    for r in rows
                    if r.solver == solver and r.n == n and r.payoffs == "U[-1,1]"
                ),
                "-",
            )
            for n in PLAYERS
        ]
        summary.append(f"| {solver} | " + " | ".join(cells) + " |")
    return "\n".join(summary) + "\n\n" + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few games, print only")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "nash_solvers.md")
    args = parser.parse_args()
    logging.getLogger("matrl.gametheory").setLevel(logging.ERROR)  # failures are counted in the table
    scale = 10 if args.quick else 1
    plan = [
        ("exact, first NE", via_solve(selection="first"), 200, 100),
        ("exact, all NE (default: closest_to_current)", via_solve(), 200, 100),
        ("CMA-ES + polish (method='cma')", via_solve(method="cma"), 30, 30),
        ("CMA-ES, paper settings (no polish)", cma_paper, 30, 30),
        ("replicator dynamics + polish", via_solve(method="replicator"), 10, 10),
        ("fictitious play + polish", via_solve(method="fictitious_play"), 10, 10),
    ]
    solve(np.zeros((3, 2, 2, 2)))  # warm caches and imports (cma takes a second to import)
    cma_es(np.ones((2, 2, 2)), np.random.default_rng(0))
    rows: list[Row] = []
    started = time.perf_counter()
    for name, call, generic, ties in plan:
        for n in PLAYERS:
            for kind, count in (("U[-1,1]", generic), ("{-1,0,1}", ties)):
                rows.append(run(name, call, kind, n, max(count // scale, 2)))
                print(f"{name:45s} {kind:9s} n={n}: {rows[-1].median_ms:8.3f} ms median", flush=True)
    total = time.perf_counter() - started
    text = tables(rows)
    print()
    print(text)
    print(f"\ntotal {total:.0f} s")
    if args.quick:
        return
    command = "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "# Nash solver benchmark\n\n"
        f"Generated by `{command}` on {datetime.date.today().isoformat()} in {total:.0f} s.\n\n"
        f"Machine: {describe_machine()}.\n\n"
        "Every solve goes through `matrl.gametheory.solve` (validation, verification, selection included), "
        "with fallbacks disabled so that failures show. Time: wall clock per solve. Failure: regret above "
        "1e-9 x the payoff scale. NashConv: sum of regrets of the returned profile / payoff scale. Games: "
        "seeded, U[-1,1] or uniform on {-1,0,1}. Figures to compare with: ../shared/reference/anchors.md "
        "(same kinds of games, a similar 2-core machine; shared machine, so medians are noisy).\n\n"
        + text
        + "\n"
    )
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
