"""Checkpoints against a uniformly random opponent: a yardstick shared by runs that cross-play cannot compare.

Cross-play pits two runs' networks on one shared observation, so it refuses runs trained on different
observation pipelines (Pong's ``paper`` and ``atari`` frames) or with different networks. A player that picks
uniformly among the discrete actions needs no observation, so every run can be scored against the same one:
that is how the Pong preprocessing default is chosen (docs/pong.md).

For each kept checkpoint of each run, agent 0 plays in seat 0 against the random player in seat 1, and agent 1
in seat 1 against the random player in seat 0, ``episodes`` games each, with the same seeds for every
checkpoint. Score of a game: (return of the checkpoint's player - return of the random player) / 2, which in
Pong is the point difference per game (as in `matrl.eval.crossplay`); > 0 means the checkpoint beats random.

Outputs in ``out``: ``versus_random.csv`` (one row per run and checkpoint), ``versus_random.png`` (score
against env steps, one line per run) and ``summary.md``.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from matrl.algorithm import build_actor_critic
from matrl.checkpoint import load_model
from matrl.eval.crossplay import RunInfo, game_core, load_run, play_games
from matrl.fileio import write_atomically, write_text_atomically

COLUMNS = (
    "label",
    "iteration",
    "env_steps",
    "score",
    "score_seat_0",
    "score_seat_1",
    "return",
    "episode_length",
    "truncated_share",
)


@dataclass
class VersusRandomResult:
    """One row per (run, checkpoint), keyed as in `COLUMNS`, and how the games were played."""

    runs: tuple[RunInfo, ...]
    labels: tuple[str, ...]
    rows: list[dict[str, Any]]
    settings: dict[str, Any]


def versus_random(
    run_dirs: list[Path],
    episodes: int = 10,
    every: int = 1,
    seed: int = 0,
    greedy: bool = False,
    max_steps: int | None = None,
    labels: list[str] | None = None,
    until_steps: int | None = None,
) -> VersusRandomResult:
    """Score every kept checkpoint of every run against the uniformly random player; see the module docs."""
    if not run_dirs:
        raise ValueError("versus-random needs at least one run directory")
    if episodes < 1:
        raise ValueError(f"episodes={episodes} is not allowed; expected >= 1")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps={max_steps} is not allowed; expected >= 1 or None")
    if labels is not None and len(labels) != len(run_dirs):
        raise ValueError(f"got {len(labels)} labels for {len(run_dirs)} runs; give one label per run or none")
    runs = tuple(load_run(Path(d), every, until_steps) for d in run_dirs)
    names = tuple(labels) if labels is not None else tuple(str(Path(d)) for d in run_dirs)
    rows: list[dict[str, Any]] = []
    for run, label in zip(runs, names, strict=True):
        rows += _score_run(run, label, episodes, seed, greedy, max_steps)
    settings = {"episodes_per_seat": episodes, "seed": seed, "greedy": greedy, "max_steps": max_steps}
    return VersusRandomResult(runs, names, rows, settings)


def _score_run(
    run: RunInfo, label: str, episodes: int, seed: int, greedy: bool, max_steps: int | None
) -> list[dict[str, Any]]:
    config = run.config
    with game_core(config, episodes, seed, max_steps) as core:
        if core.action_spec.n < 1:
            raise ValueError(f"versus-random needs discrete actions; {config.env} has continuous ones")
        shape = getattr(core, "obs_shape", None)
        net = build_actor_critic(config, 2, core.obs_dim, core.action_spec, obs_shape=shape)
        rows = []
        for checkpoint in run.checkpoints:
            net.load_state_dict(load_model(checkpoint.path)[0])
            seats = []
            for seat in (0, 1):
                returns, lengths, truncated = play_games(core, net, seed, greedy, random_seat=1 - seat)
                seats.append((returns[:, seat], returns[:, 1 - seat], lengths, truncated))
            own = np.concatenate([s[0] for s in seats])
            rows.append(
                {
                    "label": label,
                    "iteration": checkpoint.iteration,
                    "env_steps": checkpoint.env_steps,
                    "score": float(np.mean((own - np.concatenate([s[1] for s in seats])) / 2.0)),
                    "score_seat_0": float(np.mean((seats[0][0] - seats[0][1]) / 2.0)),
                    "score_seat_1": float(np.mean((seats[1][0] - seats[1][1]) / 2.0)),
                    "return": float(own.mean()),
                    "episode_length": float(np.mean(np.concatenate([s[2] for s in seats]))),
                    "truncated_share": float(np.mean(np.concatenate([s[3] for s in seats]))),
                }
            )
    return rows


# ---------------------------------------------------------------------------------------------- files
def write_outputs(result: VersusRandomResult, out: Path) -> dict[str, Path]:
    """versus_random.csv, versus_random.png and summary.md in ``out`` (each written atomically)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "csv": write_text_atomically(out / "versus_random.csv", format_csv(result)),
        "markdown": write_text_atomically(out / "summary.md", format_markdown(result)),
        "png": plot_scores(result, out / "versus_random.png"),
    }


def format_csv(result: VersusRandomResult) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in result.rows:
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()


def format_markdown(result: VersusRandomResult) -> str:
    """Per run: its settings that matter for the comparison and its score at every checkpoint."""
    s = result.settings
    lines = [
        "# Checkpoints against a uniformly random player",
        "",
        f"- {s['episodes_per_seat']} games per seat and checkpoint, "
        f"{'greedy' if s['greedy'] else 'sampled'} actions, seed {s['seed']}, step limit "
        f"{s['max_steps'] if s['max_steps'] is not None else 'the env default'}",
        "- score: mean over games of (return of the checkpoint's player - return of the random player) / 2",
        "",
    ]
    for run, label in zip(result.runs, result.labels, strict=True):
        c = run.config
        lines.append(f"## {label}")
        lines.append(f"{c.algo} seed {c.seed} on {c.env} {json.dumps(c.env_kwargs)}, run {run.path}")
        lines += [
            "",
            "| env steps | score | seat 0 | seat 1 | episode length |",
            "| ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in (r for r in result.rows if r["label"] == label):
            lines.append(
                f"| {row['env_steps']} | {row['score']:.2f} | {row['score_seat_0']:.2f} | "
                f"{row['score_seat_1']:.2f} | {row['episode_length']:.0f} |"
            )
        lines.append("")
    return "\n".join(lines)


def read_csv(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``versus_random.csv`` (numbers as numbers), e.g. to draw several results in a figure."""
    with Path(path).open(newline="") as f:
        rows: list[dict[str, Any]] = list(csv.DictReader(f))
    for row in rows:
        for key in COLUMNS[1:]:
            row[key] = int(row[key]) if key in ("iteration", "env_steps") else float(row[key])
    return rows


def plot_scores(result: VersusRandomResult, out: Path) -> Path:
    """Score against env steps, one line per run (the dashed line is the random player's own level)."""
    return plot_rows(
        result.rows, out, title=f"Checkpoints against a uniformly random player ({result.runs[0].config.env})"
    )


def plot_rows(
    rows: list[dict[str, Any]], out: Path, title: str = "Checkpoints against a uniformly random player"
) -> Path:
    """Score against env steps, one line per label, from rows as in `COLUMNS` (of one or several results)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import EngFormatter

    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.subplots()
    for label in dict.fromkeys(r["label"] for r in rows):
        mine = [r for r in rows if r["label"] == label]
        ax.plot([r["env_steps"] for r in mine], [r["score"] for r in mine], marker="o", label=label)
    ax.axhline(0.0, color="grey", linestyle="--", linewidth=1)
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.set_xlabel("env steps")
    ax.set_ylabel("score against random: (own - random) / 2")
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small")
    return write_atomically(Path(out), lambda tmp: fig.savefig(tmp, format="png", dpi=120))
