"""A grid of training runs (envs x algorithms x seeds) as Ray Tune trials, resumable, with a summary table.

Every trial is an ordinary `matrl train` run directory, ``OUT/ENV/ALGO/seed_S`` (the layout `matrl plot` and
``benchmarks/gridworld_results.py`` read), trained in-process by `matrl.training.train` inside the trial.
Whether a run is done is read from its directory, never from Tune's records, so running the same sweep again
(on any node that sees ``OUT``) skips finished runs, resumes interrupted ones from their last checkpoint
(bit-identically) and trains the rest. Tune's own files go to ``OUT/.tune`` and may be deleted at any time.

The pure parts (argument parsing, run status, the summary) need no Ray; Ray is imported only to run trials.
docs/sweeps.md explains clusters, resources and the summary format.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from matrl.config import ALGOS, TrainConfig, preset
from matrl.fileio import write_text_atomically

RunStatus = Literal["fresh", "interrupted", "finished"]

#: The sweep's default grid: the paper's grid worlds and MATRL with its ablations (Fig. 5).
DEFAULT_ENVS = ("checkers_v0", "switch4_v0")
DEFAULT_ALGOS = ("matrl", "il", "il-pp", "matrl-nobr")
#: `matrl train` options a sweep sets itself (from --envs, --algos, --seeds, --steps) or that make no sense
#: per run; --train-args may not give them.
_SWEEP_OPTIONS = {
    "--env": "--envs",
    "--algo": "--algos",
    "--seed": "--seeds",
    "--total-steps": "--steps",
    "--total_steps": "--steps",
    "--out": "--out",
    "--resume": "re-running the sweep",
    "--from-config": "--train-args with explicit options",
    "--from_config": "--train-args with explicit options",
}
RAY_MISSING = 'matrl sweep needs Ray: pip install "matrl[ray]"'
#: Columns of ``OUT/summary.csv``.
SUMMARY_COLUMNS = (
    "env",
    "algo",
    "seeds",
    "finished",
    "return_mean",
    "return_std",
    "env_steps",
    "wall_s",
    "errors",
)


@dataclass(frozen=True)
class RunPlan:
    """One cell of the grid: its run directory (absolute) and the config it trains with."""

    env: str
    algo: str
    seed: int
    run_dir: Path
    config: TrainConfig

    @property
    def key(self) -> str:
        """``ENV/ALGO/seed_S``: the run directory relative to the sweep's output directory."""
        return f"{self.env}/{self.algo}/seed_{self.seed}"


@dataclass(frozen=True)
class SummaryRow:
    """One env x algorithm line of the summary; the statistics are over its finished seeds."""

    env: str
    algo: str
    seeds: tuple[int, ...]
    finished: int
    return_mean: float
    return_std: float
    env_steps: int | None
    wall_s: float
    errors: tuple[str, ...]


# ---------------------------------------------------------------------------------------------------------
# Arguments


def parse_names(flag: str, text: str, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    """A comma-separated list of names from ``allowed`` (order kept, repeats dropped), or a one-line error."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError(f"{flag} {text!r} is empty; expected a comma-separated list of {what}s")
    for name in names:
        if name not in allowed:
            raise ValueError(f"{flag}: unknown {what} {name!r}; allowed: {', '.join(allowed)}")
    return tuple(dict.fromkeys(names))


def parse_env_ids(text: str) -> tuple[str, ...]:
    """``--envs``: built-in ids, ``pettingzoo:PACKAGE.MODULE[:FACTORY]`` ids and entry-point names (order
    kept, repeats dropped), or a one-line error. A name given to ``register_env`` in this process only is
    refused: the trials run in Ray worker processes, whose registry lacks it."""
    from matrl.envs.registry import check_env_id, registered_in_process

    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError(f"--envs {text!r} is empty; expected a comma-separated list of env ids")
    for name in names:
        try:
            check_env_id(name)
        except ValueError as err:
            raise ValueError(f"--envs: {err}") from None
        if registered_in_process(name):
            raise ValueError(
                f"--envs: env {name!r} is registered in this process only (register_env), and sweep trials "
                "run in Ray workers; use pettingzoo:PACKAGE.MODULE:FACTORY or a matrl.envs entry point"
            )
    return tuple(dict.fromkeys(names))


def parse_seeds(text: str) -> tuple[int, ...]:
    """Seeds as ``0-9`` (inclusive range), ``0,2,5``, ``3`` or a mix (``0-2,7``); sorted, repeats dropped."""
    expected = "expected seeds like 0-9, 0,2,5 or 3 (integers >= 0; ranges LOW-HIGH with LOW <= HIGH)"
    seeds: set[int] = set()
    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise ValueError(f"--seeds {text!r} is empty; {expected}")
    for part in parts:
        low, dash, high = part.partition("-")
        try:
            first, last = (int(low), int(high)) if dash else (int(part), int(part))
        except ValueError:
            raise ValueError(f"--seeds {text!r}: {part!r} is not a seed or a range; {expected}") from None
        if first < 0 or last < 0:
            raise ValueError(f"--seeds {text!r}: {part!r} is negative; {expected}")
        if first > last:
            raise ValueError(f"--seeds {text!r}: range {part!r} is empty; {expected}")
        seeds.update(range(first, last + 1))
    return tuple(sorted(seeds))


def apply_train_args(base: TrainConfig, args: Sequence[str]) -> TrainConfig:
    """``base`` with `matrl train` options applied (the same flags, parsed the same way, e.g.
    ``--batch-size 200 --ppo.lr 0.001 --env-kwargs '{...}'``); options the sweep sets itself are refused."""
    from matrl.train_args import apply_overrides

    args = list(args)
    for token in args:
        name = token.split("=", 1)[0]
        if name in _SWEEP_OPTIONS:
            raise ValueError(
                f"--train-args may not set {name}; the sweep sets it (use {_SWEEP_OPTIONS[name]} instead)"
            )
    return apply_overrides(base, args, prog="matrl sweep --train-args")


def expand_grid(
    envs: Sequence[str],
    algos: Sequence[str],
    seeds: Sequence[int],
    out: Path,
    steps: int | None = None,
    train_args: Sequence[str] = (),
) -> list[RunPlan]:
    """Every (env, algo, seed) with its config: the paper preset, ``total_steps=steps`` (when given),
    ``seed``, then ``train_args``; each config is validated, so a bad value fails before anything runs."""
    if steps is not None and steps < 1:
        raise ValueError(f"--steps={steps} is not allowed; expected >= 1")
    out = Path(out).resolve()
    plans = []
    for env in envs:
        for algo in algos:
            base = preset(env, algo)
            if steps is not None:
                base = dataclasses.replace(base, total_steps=steps)
            base = apply_train_args(base, train_args).validate()
            for seed in seeds:
                config = dataclasses.replace(base, seed=seed)
                plans.append(RunPlan(env, algo, seed, out / env / algo / f"seed_{seed}", config))
    return plans


# ---------------------------------------------------------------------------------------------------------
# Run directories


def last_iteration(metrics: Path) -> int:
    """The iteration of the last complete row of a ``metrics.csv`` (0 if it has none or does not exist)."""
    if not metrics.is_file():
        return 0
    text = metrics.read_text(encoding="utf-8")
    if "\n" not in text:
        return 0
    rows = list(csv.reader(io.StringIO(text[: text.rindex("\n") + 1])))
    if len(rows) < 2:
        return 0
    width = len(rows[0])
    complete = [row for row in rows[1:] if len(row) == width]
    return int(float(complete[-1][0])) if complete else 0


def run_status(run_dir: Path) -> RunStatus:
    """``finished`` (metrics.csv reaches the config's last iteration and its model checkpoint exists),
    ``interrupted`` (a config.json and a training state to resume from, from iteration 0 on) or ``fresh``
    (anything else, such as a run killed before it wrote its initial state, which starts over)."""
    from matrl.checkpoint import CHECKPOINT_DIR, STATE_FILE, model_path

    run_dir = Path(run_dir)
    config_file = run_dir / "config.json"
    if not config_file.is_file():
        return "fresh"
    iterations = TrainConfig.load(config_file).iterations
    if last_iteration(run_dir / "metrics.csv") >= iterations and model_path(run_dir, iterations).is_file():
        return "finished"
    if (run_dir / CHECKPOINT_DIR / STATE_FILE).is_file():
        return "interrupted"
    return "fresh"


def config_conflict(plan: RunPlan) -> str | None:
    """Why the run directory cannot be continued by this sweep (a different config.json), or None."""
    config_file = plan.run_dir / "config.json"
    if not config_file.is_file():
        return None
    try:
        saved = TrainConfig.load(config_file)
    except ValueError as err:
        return str(err)
    if saved == plan.config:
        return None
    old, new = saved.to_dict(), plan.config.to_dict()
    fields = [name for name in new if old.get(name) != new[name]]
    return (
        f"{config_file} was written with other settings ({', '.join(fields)}); "
        "move the run away or use another --out"
    )


def run_one(config: TrainConfig, run_dir: Path) -> dict[str, Any]:
    """Bring one run directory to the end of its budget, the way its status on disk says: skip a finished
    run, resume an interrupted one, (re)train a fresh one. Returns ``{"action": ..., "seconds": ...}``."""
    from matrl.training import train

    run_dir = Path(run_dir)
    start = time.perf_counter()
    status = run_status(run_dir)
    if status == "finished":
        action = "skipped"
    elif status == "interrupted":
        train(config, run_dir, resume=True, progress=False)
        action = "resumed"
    else:
        # train takes the run's lock and replaces a run killed before it trained an iteration (one that got
        # further is refused): no removal here, outside the lock, where another sweep may be training
        train(config, run_dir, progress=False)
        action = "trained"
    return {"action": action, "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------------------------------------------------
# Ray Tune


def _import_ray() -> Any:
    """The ``ray`` module, or a one-line ImportError saying how to install it."""
    try:
        import ray.tune  # binds ``ray``; Tune brings extra dependencies of its own
    except ImportError:
        raise ImportError(RAY_MISSING) from None
    return ray


def _tune_trial(params: dict[str, Any], plans: dict[str, RunPlan]) -> None:
    """A Tune trial: one run directory, trained in this process; reports its action and seconds."""
    from ray import tune

    plan = plans[params["run"]]
    result = run_one(plan.config, plan.run_dir)
    print(f"{plan.key}: {result['action']} in {result['seconds']:.1f} s", flush=True)
    tune.report(result)


def _one_line(error: BaseException) -> str:
    """``Type: message`` of the exception that failed a trial (Ray's wrapper unwrapped), on one line."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        error = cause
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def run_trials(
    plans: Sequence[RunPlan],
    out: Path,
    address: str | None = None,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
    retries: int = 0,
    verbose: int = 1,
) -> dict[str, str]:
    """Run the plans as one Tune grid (one trial per run) and return the errors of failed trials by key.

    Connects to Ray only if it is not initialised yet (``address``: None starts a local instance, ``auto``
    or ``HOST:PORT`` joins a cluster, which must accept a connection within
    `matrl.rollout.ray_collector.CONNECT_TIMEOUT_S`) and shuts down only what it started.
    """
    ray = _import_ray()
    from ray import tune

    if not plans:
        return {}
    started = not ray.is_initialized()
    if started:
        if address is not None:
            from matrl.rollout.ray_collector import check_reachable

            check_reachable(address)
        ray.init(address=address, include_dashboard=False)  # the dashboard flag matters only locally
    try:
        trainable = tune.with_resources(
            tune.with_parameters(_tune_trial, plans={plan.key: plan for plan in plans}),
            {"cpu": cpus_per_run, "gpu": gpus_per_run},
        )
        tuner = tune.Tuner(
            trainable,
            param_space={"run": tune.grid_search([plan.key for plan in plans])},
            tune_config=tune.TuneConfig(reuse_actors=True),
            run_config=tune.RunConfig(
                name=f"sweep-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}",
                storage_path=str(Path(out).resolve() / ".tune"),
                failure_config=tune.FailureConfig(max_failures=retries, fail_fast=False),
                verbose=verbose,
            ),
        )
        results = tuner.fit()
        errors = {}
        for i in range(len(results)):
            result = results[i]
            key = (result.config or {}).get("run")
            if result.error is not None and key is not None:
                errors[key] = _one_line(result.error)
        return errors
    finally:
        if started:
            ray.shutdown()


# ---------------------------------------------------------------------------------------------------------
# Summary


def summarize(
    plans: Sequence[RunPlan], errors: dict[str, str] | None = None, metric: str = "total_return"
) -> list[SummaryRow]:
    """One row per (env, algo) of the grid: the final ``metric`` (mean of each run's last 10% of iterations,
    as `matrl plot`'s table) as mean ± std over the finished seeds, their mean final env steps and mean
    training wall time (the sum of metrics.csv's ``time_iteration``), and the errors of the other seeds."""
    from matrl.eval.curves import load_run, summary_table

    errors = errors or {}
    groups: dict[tuple[str, str], list[RunPlan]] = {}
    for plan in plans:
        groups.setdefault((plan.env, plan.algo), []).append(plan)
    rows = []
    for (env, algo), members in groups.items():
        runs, problems = [], []
        for plan in members:
            if plan.key in errors:
                problems.append(f"seed {plan.seed}: {errors[plan.key]}")
            elif config_conflict(plan) is None and run_status(plan.run_dir) == "finished":
                runs.append(load_run(plan.run_dir))
            else:
                problems.append(f"seed {plan.seed}: not finished")
        if runs:
            table = summary_table(runs, metric=metric)[0]
            mean, std = table["mean"], table["std"]
            steps: int | None = round(sum(int(run.env_steps[-1]) for run in runs) / len(runs))
            walls = [math.fsum(_finite(run.columns.get("time_iteration", ()))) for run in runs]
            wall = math.fsum(walls) / len(walls)
        else:
            mean = std = wall = math.nan
            steps = None
        seeds = tuple(plan.seed for plan in members)
        rows.append(SummaryRow(env, algo, seeds, len(runs), mean, std, steps, wall, tuple(problems)))
    return rows


def _finite(values: Any) -> list[float]:
    return [float(v) for v in values if math.isfinite(float(v))]


def summary_csv(rows: Sequence[SummaryRow]) -> str:
    """The summary as CSV text (columns `SUMMARY_COLUMNS`; NaN and None as empty cells)."""

    def number(value: float | int | None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        return str(value) if isinstance(value, int) else f"{value:.6g}"

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.env,
                row.algo,
                " ".join(map(str, row.seeds)),
                row.finished,
                number(row.return_mean),
                number(row.return_std),
                number(row.env_steps),
                number(row.wall_s),
                "; ".join(row.errors),
            ]
        )
    return buffer.getvalue()


def print_summary(rows: Sequence[SummaryRow]) -> None:
    """The summary as a rich table on stdout, then the problem of each unfinished seed."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="sweep summary (final return: mean of the last 10% of iterations)")
    for name, justify in (
        ("env", "left"),
        ("algo", "left"),
        ("finished", "right"),
        ("final return (mean ± std)", "right"),
        ("env steps", "right"),
        ("wall time per run", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        value = "-" if row.finished == 0 else f"{row.return_mean:.2f} ± {row.return_std:.2f}"
        table.add_row(
            row.env,
            row.algo,
            f"{row.finished}/{len(row.seeds)}",
            value,
            "-" if row.env_steps is None else str(row.env_steps),
            "-" if math.isnan(row.wall_s) else f"{row.wall_s:.{1 if row.wall_s < 100 else 0}f} s",
        )
    Console().print(table)
    for row in rows:
        for problem in row.errors:
            print(f"{row.env}/{row.algo} {problem}")


# ---------------------------------------------------------------------------------------------------------
# The command


def sweep(
    envs: str = ",".join(DEFAULT_ENVS),
    algos: str = ",".join(DEFAULT_ALGOS),
    seeds: str = "0-9",
    steps: int | None = None,
    out: Path = Path("runs/sweep"),
    address: str | None = None,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
    train_args: Sequence[str] = (),
    retries: int = 0,
    verbose: int = 1,
) -> list[SummaryRow]:
    """Train the grid's missing runs as Ray Tune trials, then write ``out/summary.csv`` and print it.

    Every input is checked (one-line ValueError), ``address`` must answer within
    `matrl.rollout.ray_collector.CONNECT_TIMEOUT_S`, and Ray must be installed (ImportError), before anything
    runs.
    """
    env_ids = parse_env_ids(envs)
    algo_ids = parse_names("--algos", algos, ALGOS, "algorithm")
    seed_list = parse_seeds(seeds)
    if not cpus_per_run > 0:
        raise ValueError(f"--cpus-per-run={cpus_per_run} is not allowed; expected > 0")
    if not gpus_per_run >= 0:
        raise ValueError(f"--gpus-per-run={gpus_per_run} is not allowed; expected >= 0")
    if retries < 0:
        raise ValueError(f"--retries={retries} is not allowed; expected >= 0")
    plans = expand_grid(env_ids, algo_ids, seed_list, out, steps, train_args)
    if address is not None:
        from matrl.rollout.ray_collector import check_reachable

        check_reachable(address)  # before Ray: ray.init would retry a closed address for minutes
    _import_ray()
    errors: dict[str, str] = {}
    todo = []
    counts = {"finished": 0, "interrupted": 0, "fresh": 0}
    for plan in plans:
        conflict = config_conflict(plan)
        if conflict is not None:
            errors[plan.key] = f"ValueError: {conflict}"
            continue
        status = run_status(plan.run_dir)
        counts[status] += 1
        if status != "finished":
            todo.append(plan)
    print(
        f"{len(plans)} runs: {counts['finished']} finished (skipped), {counts['interrupted']} interrupted "
        f"(resumed), {counts['fresh']} to train, {len(errors)} with other settings (left alone)",
        flush=True,
    )
    errors.update(
        run_trials(
            todo,
            out,
            address=address,
            cpus_per_run=cpus_per_run,
            gpus_per_run=gpus_per_run,
            retries=retries,
            verbose=verbose,
        )
    )
    rows = summarize(plans, errors)
    path = write_text_atomically(Path(out) / "summary.csv", summary_csv(rows))
    print_summary(rows)
    print(f"wrote {path}")
    return rows
