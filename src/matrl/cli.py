"""The `matrl` command: one subcommand per job, each with its own `--help` (built by tyro from signatures).

Subcommands whose options are a library function's own parameters use that function directly (its docstring
is the help); the others are thin wrappers that import their modules lazily.
Errors a user can cause (bad env id, bad option value) end in one line on stderr and exit status 2.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import tyro

from matrl.matrixgames.study import run_study


def render(
    env: str | None = None,
    out: Path = Path("episode.gif"),
    seed: int = 0,
    fps: int = 4,
    checkpoint: Path | None = None,
    greedy: bool = False,
) -> None:
    """Record one episode of an environment as a GIF, with random actions or a trained policy, so a person
    can see what happens.

    Args:
        env: Environment id (see `matrl envs`); default checkers_v0, or the run's env with --checkpoint.
        out: Output GIF path.
        seed: Seed of the env and of the actions.
        fps: Frames per second of the GIF.
        checkpoint: Play the policy of this run directory's latest model checkpoint (or of a
            ``checkpoints/iter_NNNNNN.safetensors`` file) in its env, with its env kwargs.
        greedy: With --checkpoint, take each agent's most likely action instead of sampling.
    """
    from matrl.envs.render import record_episode

    if checkpoint is None:
        frames = record_episode(env or "checkers_v0", out, seed=seed, fps=fps)
        print(f"wrote {out} ({frames} frames)")
        return
    from matrl.eval.evaluate import checkpoint_policy

    path = _latest_model(checkpoint)
    policy, config, iteration = checkpoint_policy(path, seed=seed, greedy=greedy)
    if env is not None and env != config.env:
        raise ValueError(
            f"--env {env} is not allowed with --checkpoint {checkpoint}: its run is on {config.env}"
        )
    frames = record_episode(config.env, out, seed=seed, fps=fps, policy=policy, env_kwargs=config.env_kwargs)
    print(f"wrote {out} ({frames} frames; {config.algo} on {config.env}, {path.name}, iteration {iteration})")


def _latest_model(checkpoint: Path) -> Path:
    """A model file as given, or a run directory's latest one (one line when it has none)."""
    from matrl.checkpoint import list_models

    if not checkpoint.is_dir():
        return checkpoint
    models = list_models(checkpoint)
    if not models:
        raise FileNotFoundError(f"no model checkpoints under {checkpoint}/checkpoints")
    return models[-1][1]


def envs(build: bool = False) -> None:
    """List every environment id that `matrl` knows (built-in, `register_env`, ``matrl.envs`` entry points)
    with its agent count and observation and action spaces (any PettingZoo env is also ``pettingzoo:MODULE``).

    Args:
        build: Also build one copy of each registered and entry-point env to read its spaces (built-in ids
            are always built: it is cheap); otherwise they show "unknown until built".
    """
    from matrl.envs.catalog import format_table, summaries
    from matrl.envs.registry import PETTINGZOO_PREFIX

    print(format_table(summaries(build=True if build else None)))
    print(f"{PETTINGZOO_PREFIX}PACKAGE.MODULE[:FACTORY]  (any PettingZoo ParallelEnv, docs/envs_other.md)")
    print("vmas:SCENARIO  (any VMAS scenario, stepped as one torch batch; matrl[vmas]; docs/envs_other.md)")


def train(args: Sequence[str]) -> None:
    """Parse ``matrl train`` arguments (`matrl.train_args.resolve`) and train."""
    from matrl.envs.registry import check_env_id
    from matrl.train_args import resolve
    from matrl.training import train as run_training

    request = resolve(args)
    command = request.command
    check_env_id(command.config.env)
    config = None if command.resume else command.config
    run_training(
        config,
        command.out,
        resume=command.resume,
        extend_to=request.extend_to,
        execution=request.execution or None,
        progress=command.progress,
        log_every=command.log_every,
        log_seconds=command.log_seconds,
    )
    print(f"run written to {command.out}")


def _glued(args: list[str], name: str) -> list[str]:
    """``args`` with ``NAME VALUE`` written ``NAME=VALUE``: tyro takes a value starting with ``--`` (such as
    ``--train-args "--batch-size 200"``) for an option otherwise."""
    out: list[str] = []
    for token in args:
        if out and out[-1] == name:
            out[-1] = f"{name}={token}"
        else:
            out.append(token)
    return out


def _train_help() -> None:
    """Train MATRL, an ablation (il, il-pp, matrl-nobr) or a baseline (vdn, qmix, qtran, maddpg)."""


def evaluate(
    checkpoint: tyro.conf.Positional[Path],
    episodes: int = 100,
    seed: int = 0,
    greedy: bool = False,
    random_agents: tuple[int, ...] = (),
) -> None:
    """Play episodes with the policies of a model checkpoint and print their returns.

    Args:
        checkpoint: A ``checkpoints/iter_NNNNNN.safetensors`` file of a run (or a run directory: its latest).
        episodes: Number of episodes.
        seed: Seed of the action sampling.
        greedy: Take the most likely action instead of sampling.
        random_agents: Indices of agents that act uniformly at random instead (e.g. one team of a mixed game,
            to score the other team against a random opponent).
    """
    from matrl.eval.evaluate import evaluate as run_evaluation

    checkpoint = _latest_model(checkpoint)
    evaluation = run_evaluation(
        checkpoint, episodes=episodes, seed=seed, greedy=greedy, random_agents=random_agents
    )
    print(evaluation.summary())


def plot(
    runs: tyro.conf.Positional[tuple[Path, ...]],
    out: Path = Path("curves.png"),
    metric: str = "total_return",
    band: str = "std",
    smooth: str = "ma:5",
    group_by: str = "config",
    label: str | None = None,
) -> None:
    """Draw learning curves (mean and band over seeds, one panel per env, one line per run label) to PNG.

    Also prints a table of the final values (mean of the last 10% of iterations) per env and run label, and
    what each settings hash in a label stands for.

    Args:
        runs: Run directories, or directories holding run directories at any depth.
        out: Output PNG path.
        metric: Column of metrics.csv to plot.
        band: ``std`` (mean +- one standard deviation) or ``minmax``.
        smooth: ``none``, ``ma:N`` (trailing moving average of N iterations) or ``ema:W`` (as TensorBoard).
        group_by: What makes one line: ``config`` (the algo, plus a short hash of the non-default settings
            where runs of one env and algo differ in them), ``algo`` (settings merged), or config keys
            separated by commas (``algo,ppo.lr``).
        label: Legend text instead of the group name: a template of config keys and ``{hash}``, e.g.
            ``'{algo} lr={ppo.lr}'``.
    """
    from matrl.eval import curves

    found = curves.label_runs(curves.find_runs(list(runs)), group_by=group_by, label=label)
    path = curves.plot_curves(found, out, metric=metric, band=band, smooth=curves.parse_smoothing(smooth))
    print(curves.format_markdown(curves.summary_table(found, metric=metric)))
    for line in curves.describe_labels(found):
        print(line)
    print(f"wrote {path} ({len(found)} runs)")


def crossplay(
    run_a: tyro.conf.Positional[Path],
    run_b: tyro.conf.Positional[Path],
    episodes: int = 10,
    out: Path = Path("crossplay"),
    every: int = 1,
    seed: int = 0,
    greedy: bool = False,
    max_steps: int | None = None,
    both_seats: bool = False,
    until_steps: int | None = None,
    threads: int = 1,
) -> None:
    """Pit every checkpoint of run A against every checkpoint of run B (paper Fig. 6) in a two-player game.

    Player 0 is A's agent-0 network, player 1 B's agent-1 network. Writes crossplay.csv (score matrix, rows
    A's checkpoints), crossplay.png (heatmap), summary.json and summary.md (transitivity summary) to --out.

    Args:
        run_a: Run directory of A (its checkpoints/iter_*.safetensors).
        run_b: Run directory of B (the same as A for self-play: MATRL vs MATRL).
        episodes: Games per cell (played at once in as many env copies).
        out: Output directory.
        every: Keep every K-th checkpoint, counted back from the last.
        seed: Seed of the action sampling and env resets (the same for every cell).
        greedy: Take the most likely action instead of sampling.
        max_steps: Cut episodes after this many steps (default: the env's own limit).
        both_seats: Also play B's agent 0 against A's agent 1 and average (removes seat advantages).
        until_steps: Only checkpoints at or below this many env steps (the first part of a longer run).
        threads: torch CPU threads.
    """
    import torch

    from matrl.eval.crossplay import crossplay as run_crossplay
    from matrl.eval.crossplay import format_markdown, write_outputs

    torch.set_num_threads(threads)
    result = run_crossplay(
        run_a,
        run_b,
        episodes=episodes,
        every=every,
        seed=seed,
        greedy=greedy,
        max_steps=max_steps,
        both_seats=both_seats,
        until_steps=until_steps,
    )
    paths = write_outputs(result, out)
    print(format_markdown(result))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")


def versus_random(
    runs: tyro.conf.Positional[list[Path]],
    episodes: int = 10,
    out: Path = Path("versus_random"),
    every: int = 1,
    seed: int = 0,
    greedy: bool = False,
    max_steps: int | None = None,
    labels: list[str] | None = None,
    until_steps: int | None = None,
    threads: int = 1,
) -> None:
    """Score every checkpoint of each two-player run against a uniformly random player: a yardstick that,
    unlike cross-play, compares runs with different observation pipelines or networks (docs/pong.md).

    Each agent plays in its own seat against the random player. Writes versus_random.csv (one row per run and
    checkpoint), versus_random.png (score against env steps, one line per run) and summary.md to --out.

    Args:
        runs: Run directories (their checkpoints/iter_*.safetensors).
        episodes: Games per seat and checkpoint (played at once in as many env copies).
        out: Output directory.
        every: Keep every K-th checkpoint, counted back from the last.
        seed: Seed of the action sampling and env resets (the same for every checkpoint).
        greedy: Take the most likely action instead of sampling.
        max_steps: Cut episodes after this many steps (default: the env's own limit).
        labels: One legend label per run (default: the run directories).
        until_steps: Only checkpoints at or below this many env steps (the first part of a longer run).
        threads: torch CPU threads.
    """
    import torch

    from matrl.eval.versus_random import format_markdown, write_outputs
    from matrl.eval.versus_random import versus_random as run_versus_random

    torch.set_num_threads(threads)
    result = run_versus_random(
        runs,
        episodes=episodes,
        every=every,
        seed=seed,
        greedy=greedy,
        max_steps=max_steps,
        labels=labels,
        until_steps=until_steps,
    )
    paths = write_outputs(result, out)
    print(format_markdown(result))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")


def sweep(
    envs: str = "checkers_v0,switch4_v0",
    algos: str = "matrl,il,il-pp,matrl-nobr",
    seeds: str = "0-9",
    steps: int | None = None,
    out: Path = Path("runs/sweep"),
    address: str | None = None,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
    train_args: str = "",
    retries: int = 0,
    quiet: bool = False,
) -> None:
    """Train a grid of runs (envs x algorithms x seeds) as Ray Tune trials into OUT/ENV/ALGO/seed_S, then
    write OUT/summary.csv and print it. Run it again to skip finished runs and resume interrupted ones.

    Needs Ray (``pip install "matrl[ray]"``); clusters, resources and the summary: docs/sweeps.md.

    Args:
        envs: Comma-separated env ids (see `matrl envs`).
        algos: Comma-separated algorithms: matrl, il, il-pp, matrl-nobr, or a baseline.
        seeds: Seeds: a range ``0-9``, a list ``0,2,5``, one seed ``3``, or a mix.
        steps: Env steps per run (default: each preset's budget).
        out: Sweep directory; on a cluster, a path every node sees (shared storage).
        address: Ray cluster to join: ``auto``, ``HOST:PORT``, or none for a local Ray instance.
        cpus_per_run: CPUs Ray reserves per run (torch threads: --train-args "--threads N").
        gpus_per_run: GPUs Ray reserves per run (fractions share a GPU; add --train-args "--device cuda").
        train_args: Extra `matrl train` options for every run, e.g. "--batch-size 200".
        retries: Times Ray restarts a failed run (from its last checkpoint).
        quiet: No Tune status tables; one line per finished run, then the summary.
    """
    import shlex

    from matrl.sweep import sweep as run_sweep

    run_sweep(
        envs=envs,
        algos=algos,
        seeds=seeds,
        steps=steps,
        out=out,
        address=address,
        cpus_per_run=cpus_per_run,
        gpus_per_run=gpus_per_run,
        train_args=shlex.split(train_args),
        retries=retries,
        verbose=0 if quiet else 1,
    )


def study(
    spec: Path,
    out: Path = Path("runs/study"),
    jobs: int = 1,
    report_only: bool = False,
    reps: int = 2000,
) -> None:
    """Train a grid of runs (envs x algorithms x seeds, from a JSON spec) into OUT/ENV/ALGO/seed_S, one
    process each, then compare them with rliable: IQM and mean with 95 % stratified bootstrap intervals,
    probability of improvement, performance profiles, learning curves and cost, in OUT/report.md and PNGs,
    plus OUT/marl_eval.json. Run it again to skip finished runs and resume interrupted ones.

    The spec format and the trust-stable-region study that uses it: docs/trust_stable_region.md.

    Args:
        spec: JSON file with envs (label -> train flags and metric), algos (label -> train flags), seeds.
        out: Study directory.
        jobs: Runs trained at once (one core each with the spec's default threads = 1).
        report_only: Only write the report from the runs that have finished.
        reps: Bootstrap resamples of the confidence intervals.
    """
    from matrl.study import StudySpec, report, run_study

    if jobs < 1:
        raise ValueError(f"--jobs {jobs} is not allowed; expected an integer >= 1")
    plan = StudySpec.load(spec)
    if not report_only:
        failed = [c for c, code in run_study(plan, out, jobs) if code != 0]
        if failed:
            logs = ", ".join(f"{c.directory}.log" for c in failed)
            print(f"{len(failed)} runs failed; their logs: {logs}")
    print(f"report written to {report(plan, out, reps)}")


SUBCOMMANDS: dict[str, Callable[..., Any]] = {
    "train": _train_help,
    "evaluate": evaluate,
    "plot": plot,
    "crossplay": crossplay,
    "versus-random": versus_random,
    "sweep": sweep,
    "matrix-games": run_study,
    "study": study,
    "render": render,
    "envs": envs,
}


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `matrl` console script: the one place that turns known failures into one line.

    Bad input, missing or corrupt files, a locked run directory, OS errors (read-only directory, full disk)
    and running out of memory print ``matrl: error: ...`` and exit 2; Ctrl-C exits 130 saying how to resume.
    ``--debug`` (anywhere) or ``MATRL_DEBUG=1`` shows the traceback instead. Anything else is a bug in matrl
    and keeps its traceback.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("MATRL_DEBUG", "") not in ("", "0")
    if "--debug" in args:
        debug, args = True, [a for i, a in enumerate(args) if a != "--debug" or _is_value(args, i)]
    from matrl.fileio import RunLockedError

    try:
        if args and args[0] == "train":
            train(args[1:])
            return
        tyro.extras.subcommand_cli_from_dict(
            SUBCOMMANDS,
            prog="matrl",
            description="Multi-Agent Trust Region Learning (MATRL). Add --debug (or MATRL_DEBUG=1) to see "
            "tracebacks instead of one-line errors.",
            args=_glued(args, "--train-args"),
        )
    except KeyboardInterrupt as err:
        if debug:
            raise
        print(f"matrl: {err or 'interrupted'}", file=sys.stderr)
        raise SystemExit(130) from None
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except (ValueError, OSError, FloatingPointError, ImportError, RunLockedError, MemoryError) as err:
        if debug:
            raise
        print(f"matrl: error: {_one_line(err)}", file=sys.stderr)
        raise SystemExit(2) from None


def _is_value(args: list[str], i: int) -> bool:
    """Whether ``args[i]`` is the value of the option before it (``--train-args --debug``), not a flag."""
    return i > 0 and args[i - 1] == "--train-args"


_OS_HINTS = {
    errno.ENOSPC: "free some space, then continue with --resume",
    errno.EDQUOT: "free some space, then continue with --resume",
    errno.EFBIG: "the file system or a limit (ulimit -f) refuses files this large",
    errno.EROFS: "choose a writable --out",
    errno.EACCES: "choose a directory you may write to, or fix its permissions",
    errno.EPERM: "choose a directory you may write to, or fix its permissions",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
}


def _one_line(err: BaseException) -> str:
    """The message of a known failure on one line, with what to do for OS errors and memory."""
    if isinstance(err, MemoryError):
        return f"out of memory ({err or 'allocation failed'}); try a smaller --batch-size or --num-envs"
    if isinstance(err, OSError) and err.strerror:
        where = f": {err.filename}" if err.filename else ""
        hint = _OS_HINTS.get(err.errno or 0)
        text = f"{err.strerror}{where}" + (f" ({hint})" if hint else "")
    else:
        text = str(err) or type(err).__name__
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


if __name__ == "__main__":
    main()
