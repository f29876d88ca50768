"""Returns of a learner change at equal env steps: runs of the code before it against runs of the code after.

A faster update must not cost return. This reads two trees of finished runs laid out as ``ALGO/seed_N`` (the
same commands, one trained with the old code, one with the new), scores each run by the mean
``total_return`` over its last 20 % of iterations, and reports per algorithm the mean over seeds with a 95 %
bootstrap interval (rliable) for both codes, and P(after > before); it draws both codes' mean curves with
their min-max band over seeds to a PNG. Prints the Markdown table.

    .venv/bin/python benchmarks/returns_before_after.py --before RUNS_OLD --after RUNS_NEW --out FIG.png
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

LAST_FRACTION = 0.2


def curve(run: Path) -> tuple[np.ndarray, np.ndarray]:
    """(env steps, total return) of the iterations that finished an episode."""
    with (run / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["total_return"] != "nan"]
    steps = np.array([float(r["env_steps"]) for r in rows])
    return steps, np.array([float(r["total_return"]) for r in rows])


def final_score(returns: np.ndarray) -> float:
    return float(returns[-max(1, int(len(returns) * LAST_FRACTION)) :].mean())


def runs(root: Path) -> dict[str, list[Path]]:
    """algo -> its seed directories, in seed order."""
    found: dict[str, list[Path]] = {}
    for algo_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        seeds = sorted(algo_dir.glob("seed_*/metrics.csv"))
        if seeds:
            found[algo_dir.name] = [s.parent for s in seeds]
    return found


def main() -> None:
    from matrl.study import improvement_probabilities, interval_estimates

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="the PNG of the curves")
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    trees = {"before": runs(args.before), "after": runs(args.after)}
    algos = [a for a in trees["before"] if a in trees["after"]]
    lines = [
        "| algo | seeds | before: mean [95 % CI] | after: mean [95 % CI] | P(after > before) |",
        "| --- | ---: | --- | --- | --- |",
    ]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, axes = plt.subplots(1, len(algos), figsize=(5 * len(algos), 3.6), squeeze=False)
    for ax, algo in zip(axes[0], algos, strict=True):
        scores = {}
        for code, tree in trees.items():
            curves = [curve(run) for run in tree[algo]]
            scores[code] = np.array([[final_score(r)] for _, r in curves])
            length = min(len(r) for _, r in curves)
            stacked = np.stack([r[:length] for _, r in curves])
            steps = curves[0][0][:length]
            ax.plot(steps, stacked.mean(0), label=f"{code} ({len(curves)} seeds)")
            ax.fill_between(steps, stacked.min(0), stacked.max(0), alpha=0.2)
        ci = interval_estimates(scores)
        p = improvement_probabilities(scores, [("after", "before")])[("after", "before")]
        cells = [f"{ci[c]['Mean'][0]:.2f} [{ci[c]['Mean'][1]:.2f}, {ci[c]['Mean'][2]:.2f}]" for c in trees]
        lines.append(
            f"| {algo} | {len(scores['after'])} | {cells[0]} | {cells[1]} | "
            f"{p[0]:.2f} [{p[1]:.2f}, {p[2]:.2f}] |"
        )
        ax.set_title(f"{args.title} {algo}".strip())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1e3:.0f}k"))
        ax.set_xlabel("env steps")
        ax.set_ylabel("total return")
        ax.legend()
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
