"""The `matrl` command: one subcommand per job, each with its own `--help` (built by tyro from signatures).

Subcommand bodies import their modules lazily so that `matrl --help` stays instant.
Errors a user can cause (bad env id, bad option value) end in one line on stderr and exit status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import tyro


def matrix_games(
    games: int = 1000,
    seed: int = 0,
    out: Path = Path("runs/matrix-games"),
    iterations: int = 1000,
    variant: Literal["paper", "original"] = "paper",
    plots: bool = True,
) -> None:
    """Run the matrix-game study (paper Table 1, Fig. 4, 9): IGA, IGA-PP, WoLF and MATRL on random 2x2 games.

    Args:
        games: Number of random games per category (coordination, anti-coordination, cyclic).
        seed: First game seed; the games of a category are seeds seed..seed+games-1.
        out: Output directory for table1.csv and the PNG plots.
        iterations: Learning steps per game; converged = within 0.05 of a Nash equilibrium in time.
        variant: 'paper' follows the paper's equations; 'original' replays the official code, quirks included.
        plots: Also draw Fig. 4 (matching pennies) and Fig. 9 (chicken, prisoners' dilemma) as PNG.
    """
    from matrl.matrixgames.study import run_study

    run_study(games=games, seed=seed, out=out, iterations=iterations, variant=variant, plots=plots)


def render(env: str = "checkers_v0", out: Path = Path("episode.gif"), seed: int = 0, fps: int = 4) -> None:
    """Record one episode of an environment as a GIF (random actions), so a person can see what happens.

    Args:
        env: Environment id (see `matrl envs`).
        out: Output GIF path.
        seed: Seed of the random actions.
        fps: Frames per second of the GIF.
    """
    from matrl.envs.render import record_episode

    frames = record_episode(env, out, seed=seed, fps=fps)
    print(f"wrote {out} ({frames} frames)")


def envs() -> None:
    """List the environment ids that `matrl` knows."""
    from matrl.envs import ENV_IDS

    for env_id in ENV_IDS:
        print(env_id)


SUBCOMMANDS: dict[str, Callable[..., Any]] = {
    "matrix-games": matrix_games,
    "render": render,
    "envs": envs,
}


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `matrl` console script."""
    try:
        tyro.extras.subcommand_cli_from_dict(
            SUBCOMMANDS,
            prog="matrl",
            description="Multi-Agent Trust Region Learning (MATRL).",
            args=argv,
        )
    except (ValueError, FileNotFoundError) as err:
        print(f"matrl: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
