"""The `matrl` command: one subcommand per job, each with its own `--help` (built by tyro from signatures).

Subcommands whose options are a library function's own parameters use that function directly (its docstring
is the help); the others are thin wrappers that import their modules lazily.
Errors a user can cause (bad env id, bad option value) end in one line on stderr and exit status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import tyro

from matrl.matrixgames.study import run_study


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
    "matrix-games": run_study,
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
