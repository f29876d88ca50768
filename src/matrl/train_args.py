"""One parser for training options, used by `matrl train` and `matrl sweep --train-args`.

A training command line is resolved in one place, in this order: the settings to start from (the env's and
algorithm's preset, or a saved ``--from-config``), then ``--env-kwargs JSON``, then every other flag (tyro, on
`TrainConfig`'s fields). Flags that a resume or a replay cannot honour are refused in one line rather than
ignored: with ``--resume`` the run keeps its config.json (only execution settings and ``--total-steps`` may be
given), and ``--from-config`` replays its own env (``--env`` naming another one is refused).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import tyro

from matrl.config import TrainConfig, preset

ENV_KWARGS_FLAGS = ("--env-kwargs", "--env_kwargs")


@dataclasses.dataclass(frozen=True)
class TrainCommand:
    """Train MATRL, an ablation or a baseline on one environment; defaults: the paper's preset for ``--env``
    and ``--algo`` (the baselines' settings are in the ``--value.*`` and ``--maddpg.*`` groups).

    Environment options go in ``--env-kwargs JSON``, e.g. ``--env mamujoco --env-kwargs
    '{"scenario": "HalfCheetah", "agent_conf": "2x3"}'``. Any PettingZoo ParallelEnv trains as ``--env
    pettingzoo:PACKAGE.MODULE[:FACTORY]`` (docs/envs_other.md).
    """

    out: Path = Path("runs/train")
    """Run directory (config.json, metrics.csv, TensorBoard events, checkpoints)."""
    resume: bool = False
    """Continue the run in --out from its last checkpoint (bit-identical to an uninterrupted run), with the
    settings of its config.json; adding --total-steps N extends a (finished) run to N env steps."""
    from_config: Path | None = None
    """Start from the settings of a saved config.json (other flags still override them)."""
    progress: bool = True
    """Show progress: a bar on a terminal, otherwise (nohup, tee, cluster jobs) one plain line every
    --log-every iterations or --log-seconds seconds."""
    log_every: int | None = None
    """Iterations between progress lines when stdout is not a terminal (default: about 20 lines per run)."""
    log_seconds: float = 60.0
    """Seconds after which a progress line is printed anyway when stdout is not a terminal."""
    config: Annotated[TrainConfig, tyro.conf.arg(name="")] = dataclasses.field(default_factory=TrainConfig)


@dataclasses.dataclass(frozen=True)
class TrainRequest:
    """A resolved `matrl train` command line: the config to train (for a resume, the flags' view of it; the
    run's config.json is what trains) and how to run it."""

    command: TrainCommand
    extend_to: int | None = None
    """--total-steps given with --resume: extend the run to this many env steps."""
    execution: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Execution settings given with --resume (`matrl.training.EXECUTION_FIELDS`)."""

    @property
    def config(self) -> TrainConfig:
        return self.command.config


#: `matrl train` flags that --resume accepts besides the execution settings: the run's settings come from its
#: config.json, so any other flag would be dropped silently.
RESUME_FLAGS = (
    "--out",
    "--resume",
    "--progress",
    "--no-progress",
    "--log-every",
    "--log-seconds",
    "--total-steps",
)


def resolve(argv: Sequence[str]) -> TrainRequest:
    """Parse a `matrl train` command line into the config it asks for; one-line ValueError for anything it
    cannot honour (see the module docs)."""
    args = list(argv)
    scout = argparse.ArgumentParser(add_help=False)
    scout.add_argument("--env")
    scout.add_argument("--algo")
    for name in ("from_config", "num_envs", "envs_per_worker", "total_steps"):
        scout.add_argument(f"--{name.replace('_', '-')}", f"--{name}", dest=name)
    scout.add_argument("--resume", action="store_true")
    known, _ = scout.parse_known_args(args)
    if known.num_envs is not None and known.envs_per_worker not in (None, "None"):
        raise ValueError(
            f"--num-envs {known.num_envs} and --envs-per-worker {known.envs_per_worker} are not allowed "
            "together; --envs-per-worker sets num_envs = workers * envs_per_worker"
        )
    if known.resume and known.from_config:
        raise ValueError(
            f"--from-config {known.from_config} is not allowed with --resume: a resumed run keeps its own "
            "config.json (to start a new run from a saved config, drop --resume and give a new --out)"
        )
    if known.from_config:
        base = TrainConfig.load(Path(known.from_config))
        if known.env and known.env != base.env:
            raise ValueError(
                f"--env {known.env} is not allowed with --from-config {known.from_config}, whose run is on "
                f"{base.env}; drop --env to replay it, or --from-config to start from {known.env}'s preset"
            )
    else:
        base = preset(known.env or TrainConfig.env, known.algo)
    if known.num_envs is not None and base.envs_per_worker is not None:
        base = dataclasses.replace(base, envs_per_worker=None)  # an explicit --num-envs wins over a saved one
    base = _with_env_kwargs(base, args)
    command = tyro.cli(
        TrainCommand,
        default=TrainCommand(config=base),
        args=without_option(args, ENV_KWARGS_FLAGS),
        prog="matrl train",
        description=TrainCommand.__doc__,
    )
    if not command.resume:
        return TrainRequest(command)
    extend_to = command.config.total_steps if known.total_steps is not None else None
    return TrainRequest(command, extend_to, resume_execution(args, command.config))


def apply_overrides(base: TrainConfig, argv: Sequence[str], prog: str) -> TrainConfig:
    """``base`` with training flags applied (``--batch-size 200 --ppo.lr 0.001 --env-kwargs '{...}'``),
    parsed exactly as `matrl train` parses them."""
    args = list(argv)
    base = _with_env_kwargs(base, args)
    rest = without_option(args, ENV_KWARGS_FLAGS)
    if not rest:
        return base
    return tyro.cli(TrainConfig, default=base, args=rest, prog=prog)


def resume_execution(args: Sequence[str], config: TrainConfig) -> dict[str, Any]:
    """The execution settings given with --resume (`matrl.training.EXECUTION_FIELDS`); any other setting
    is refused in one line, since the resumed run keeps its config.json."""
    from matrl.training import EXECUTION_FIELDS

    execution_flags = {f"--{name.replace('_', '-')}": name for name in EXECUTION_FIELDS}
    given: dict[str, Any] = {}
    for token in args:
        if not token.startswith("--"):
            continue
        flag = token.split("=", 1)[0].replace("_", "-")
        if flag in execution_flags:
            given[execution_flags[flag]] = getattr(config, execution_flags[flag])
        elif flag not in RESUME_FLAGS:
            allowed = ", ".join([*RESUME_FLAGS[-1:], *execution_flags])
            raise ValueError(
                f"{flag} is not allowed with --resume: the run keeps the settings of its config.json; "
                "allowed: "
                f"{allowed} (to change others, start a new run with --from-config DIR/config.json --out NEW)"
            )
    return given


def _with_env_kwargs(base: TrainConfig, args: Sequence[str]) -> TrainConfig:
    """``base`` with the env kwargs of the last ``--env-kwargs JSON`` in ``args`` (if any)."""
    for i, token in enumerate(args):
        if token in ENV_KWARGS_FLAGS and i + 1 < len(args):
            base = dataclasses.replace(base, env_kwargs=json_object(token, args[i + 1]))
        elif token.startswith(tuple(f"{name}=" for name in ENV_KWARGS_FLAGS)):
            flag, _, value = token.partition("=")
            base = dataclasses.replace(base, env_kwargs=json_object(flag, value))
    return base


def without_option(args: Sequence[str], names: tuple[str, ...]) -> list[str]:
    """``args`` without ``NAME VALUE`` / ``NAME=VALUE`` pairs of the given option names."""
    out: list[str] = []
    skip = False
    for token in args:
        if skip:
            skip = False
        elif token in names:
            skip = True
        elif not token.startswith(tuple(f"{name}=" for name in names)):
            out.append(token)
    return out


def json_object(flag: str, text: str) -> dict[str, object]:
    """A JSON object given on the command line, or a one-line error."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{flag} {text!r} is not valid JSON ({err.msg}); expected an object like "
            '\'{"scenario": "HalfCheetah", "agent_conf": "2x3"}\''
        ) from None
    if not isinstance(value, dict):
        raise ValueError(f"{flag} {text!r} is not allowed; expected a JSON object")
    return value
