"""A study: a grid of env x algorithm x seeds trained as ordinary runs, then compared with rliable.

The grid lives in a JSON spec (docs/trust_stable_region.md shows the one behind that study)::

    {"seeds": [0, 1, 2, 3, 4],
     "reference": "il-pp",
     "envs": {"checkers": {"args": ["--env", "checkers_v0", "--total-steps", "200000"]},
              "pennies": {"args": ["--env", "matrix_v0",
                                   "--env-kwargs", "{\\"game\\": \\"matching_pennies\\"}"],
                          "metric": "stage_nash_conv", "higher_is_better": false}},
     "algos": {"il-pp": ["--algo", "il-pp"],
               "placebo": ["--algo", "placebo", "--meta.placebo-keep-rate", "from:matrl-xfit"]}}

Every cell is a `matrl train` run in ``OUT/ENV/ALGO/seed_S``, started as its own process (``jobs`` at once).
Running the study again skips finished runs and resumes interrupted ones, so it can be stopped at any time.
``from:LABEL`` stands for the rate at which that algorithm's finished runs in the same env kept their current
policy (mean ``rho_keep_share``): the placebo control is matched to the rate the meta-game realised.
An env with ``"head_to_head": N`` (two-player games) also ranks the algorithms by playing their final policies
against each other, N games per seat pairing (`matrl.eval.head_to_head`). Every env's report has each
agent's own return per algorithm (teams of a mixed game side by side), and with ``"random_episodes": N`` the
uniformly random policy's over N episodes as the yardstick (`matrl.eval.random_policy`).

A run's score is its metric averaged over the last ``last_fraction`` of its iterations (a single last row
is noisy for policies that cycle). The report gives, per env and over all envs (scores min-max normalised per
env over every run of the study), IQM and mean with 95 % stratified bootstrap intervals, the probability of
improvement of each algorithm over the reference, performance profiles (rliable), and the cost and meta-game
statistics of each algorithm, as ``report.md`` and PNG figures, plus the scores in marl-eval's JSON layout.
"""

from __future__ import annotations

import csv
import json
import math
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from matrl.fileio import write_text_atomically
from matrl.sweep import run_status

#: Flags a study sets itself for every run.
_OWN_FLAGS = ("--seed", "--out", "--resume", "--from-config")
FROM_PREFIX = "from:"
RLIABLE_MISSING = 'matrl study needs rliable for its report: pip install "matrl[study]"'


@dataclass(frozen=True)
class EnvSpec:
    """One environment of the grid: its `matrl train` flags and how a run is scored."""

    args: tuple[str, ...]
    metric: str = "total_return"
    higher_is_better: bool = True
    last_fraction: float = 0.1
    head_to_head: int = 0
    """Two-player competitive envs: episodes per seat pairing of a seat-balanced head-to-head of every pair
    of algorithms' final policies (`matrl.eval.head_to_head`), the score that ranks them; 0: none."""
    random_episodes: int = 0
    """Episodes of the uniformly random policy whose per-agent returns the report gives as the yardstick
    (cached in OUT/ENV/random.json); 0: none."""


@dataclass(frozen=True)
class StudySpec:
    """The grid: environments, algorithms (label -> `matrl train` flags), seeds and the reference algo."""

    envs: dict[str, EnvSpec]
    algos: dict[str, tuple[str, ...]]
    seeds: tuple[int, ...]
    reference: str | None = None
    threads: int = 1
    pairs: tuple[tuple[str, str], ...] = ()
    """Extra comparisons reported as P(X > Y), e.g. a MATRL variant against its placebo."""

    @classmethod
    def load(cls, path: Path) -> StudySpec:
        """Read and check a spec file; every problem is one ValueError line naming the value."""
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"study spec {path} does not exist") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"study spec {path} is not valid JSON: {err}") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: Any, where: str = "study spec") -> StudySpec:
        if not isinstance(data, dict):
            raise ValueError(f"{where} must hold a JSON object with envs, algos and seeds")
        allowed = {"envs", "algos", "seeds", "reference", "threads", "pairs"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}; allowed: {sorted(allowed)}")
        envs_raw, algos_raw, seeds = data.get("envs"), data.get("algos"), data.get("seeds")
        if not isinstance(envs_raw, dict) or not envs_raw:
            raise ValueError(f"{where}: envs={envs_raw!r} must be a non-empty object (label -> env)")
        if not isinstance(algos_raw, dict) or not algos_raw:
            raise ValueError(f"{where}: algos={algos_raw!r} must be a non-empty object (label -> flags)")
        if not isinstance(seeds, list) or not seeds or not all(type(s) is int and s >= 0 for s in seeds):
            raise ValueError(f"{where}: seeds={seeds!r} must be a non-empty list of integers >= 0")
        envs = {}
        for label, env in envs_raw.items():
            _check_label(label, where)
            if not isinstance(env, dict) or not _is_flags(env.get("args")):
                raise ValueError(f"{where}: envs.{label} must be an object with args, a list of strings")
            keys = {"args", "metric", "higher_is_better", "last_fraction", "head_to_head", "random_episodes"}
            extra = sorted(set(env) - keys)
            if extra:
                raise ValueError(f"{where}: envs.{label} has unknown keys {extra}")
            fraction = env.get("last_fraction", 0.1)
            if not isinstance(fraction, int | float) or not 0 < fraction <= 1:
                raise ValueError(f"{where}: envs.{label}.last_fraction={fraction!r} must lie in (0, 1]")
            episodes = env.get("head_to_head", 0)
            if type(episodes) is not int or episodes < 0:
                raise ValueError(f"{where}: envs.{label}.head_to_head={episodes!r} must be an integer >= 0")
            random_episodes = env.get("random_episodes", 0)
            if type(random_episodes) is not int or random_episodes < 0:
                raise ValueError(
                    f"{where}: envs.{label}.random_episodes={random_episodes!r} must be an integer >= 0"
                )
            envs[label] = EnvSpec(
                tuple(env["args"]),
                str(env.get("metric", "total_return")),
                bool(env.get("higher_is_better", True)),
                float(fraction),
                episodes,
                random_episodes,
            )
        algos = {}
        for label, flags in algos_raw.items():
            _check_label(label, where)
            if not _is_flags(flags):
                raise ValueError(f"{where}: algos.{label}={flags!r} must be a list of strings (train flags)")
            algos[label] = tuple(flags)
        for label, flags in [(f"envs.{k}", v.args) for k, v in envs.items()] + list(algos.items()):
            own = sorted(set(flags) & set(_OWN_FLAGS))
            if own:
                raise ValueError(f"{where}: {label} sets {own}; the study sets these itself")
            for flag in flags:
                if flag.startswith(FROM_PREFIX) and flag[len(FROM_PREFIX) :] not in algos:
                    raise ValueError(f"{where}: {label} uses {flag!r}; allowed: from:<an algo label>")
        reference = data.get("reference")
        if reference is not None and reference not in algos:
            raise ValueError(f"{where}: reference={reference!r} is not one of the algos {sorted(algos)}")
        threads = data.get("threads", 1)
        if type(threads) is not int or threads < 1:
            raise ValueError(f"{where}: threads={threads!r} must be an integer >= 1")
        pairs = data.get("pairs", [])
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(x in algos for x in p) and p[0] != p[1] for p in pairs
        ):
            raise ValueError(
                f"{where}: pairs={pairs!r} must be a list of [X, Y] pairs of two different algos"
            )
        return cls(envs, algos, tuple(seeds), reference, threads, tuple((x, y) for x, y in pairs))

    def to_dict(self) -> dict[str, Any]:
        return {
            "seeds": list(self.seeds),
            "reference": self.reference,
            "threads": self.threads,
            "pairs": [list(p) for p in self.pairs],
            "envs": {k: {**vars(v), "args": list(v.args)} for k, v in self.envs.items()},
            "algos": {k: list(v) for k, v in self.algos.items()},
        }


def _check_label(label: str, where: str) -> None:
    if not label or "/" in label or label.startswith(".") or label != label.strip():
        raise ValueError(f"{where}: label {label!r} must be a plain name (it becomes a directory)")


def _is_flags(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


@dataclass
class Cell:
    """One run of the grid."""

    env: str
    algo: str
    seed: int
    directory: Path


def cells(spec: StudySpec, out: Path) -> list[Cell]:
    """Every run of the grid, in env, algo, seed order."""
    return [
        Cell(env, algo, seed, out / env / algo / f"seed_{seed}")
        for env in spec.envs
        for algo in spec.algos
        for seed in spec.seeds
    ]


def train_command(spec: StudySpec, cell: Cell, out: Path) -> list[str]:
    """The `matrl train` command of a cell (``--resume`` for an interrupted run); ``from:`` resolved."""
    base = [sys.executable, "-m", "matrl.cli", "train"]
    if run_status(cell.directory) == "interrupted":
        return [*base, "--out", str(cell.directory), "--resume", "--no-progress"]
    flags = [_resolve(flag, out / cell.env) for flag in (*spec.envs[cell.env].args, *spec.algos[cell.algo])]
    return [
        *base,
        *flags,
        "--seed",
        str(cell.seed),
        "--threads",
        str(spec.threads),
        "--out",
        str(cell.directory),
        "--no-progress",
    ]


def _resolve(flag: str, env_dir: Path) -> str:
    """``from:LABEL``: the mean keep rate (``rho_keep_share``) of LABEL's finished runs in this env."""
    if not flag.startswith(FROM_PREFIX):
        return flag
    label = flag[len(FROM_PREFIX) :]
    runs = sorted(d for d in (env_dir / label).glob("seed_*") if d.is_dir() and run_status(d) == "finished")
    shares = [float(r["rho_keep_share"]) for d in runs for r in _rows(d) if r.get("rho_keep_share")]
    if not shares:
        raise ValueError(f"{flag}: no finished run of {label} in {env_dir} logs rho_keep_share; run it first")
    return repr(round(float(np.mean(shares)), 4))


def run_study(
    spec: StudySpec, out: Path, jobs: int = 1, log: Callable[[str], None] = print
) -> list[tuple[Cell, int]]:
    """Train every cell that is not finished, ``jobs`` at a time; returns (cell, exit code) of those run.

    Cells whose flags use ``from:`` start after all the others (they read those runs' results).
    """
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out / "study.json", json.dumps(spec.to_dict(), indent=2) + "\n")
    todo = [c for c in cells(spec, out) if run_status(c.directory) != "finished"]
    later = [c for c in todo if any(f.startswith(FROM_PREFIX) for f in spec.algos[c.algo])]
    first = [c for c in todo if c not in later]
    results: list[tuple[Cell, int]] = []
    for group in (first, later):
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results.extend(pool.map(lambda c: (c, _run_cell(spec, c, out, log)), group))
    return results


def _run_cell(spec: StudySpec, cell: Cell, out: Path, log: Callable[[str], None]) -> int:
    try:
        command = train_command(spec, cell, out)
    except ValueError as err:
        log(f"skipped {cell.directory}: {err}")
        return 2
    cell.directory.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with (cell.directory.parent / f"seed_{cell.seed}.log").open("a") as output:
        output.write("$ " + shlex.join(command) + "\n")
        output.flush()
        code = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, check=False).returncode
    log(f"{'done' if code == 0 else f'FAILED ({code})'} {cell.directory} in {time.monotonic() - start:.0f} s")
    return code


# ---------------------------------------------------------------------------------------------- report
def _rows(run_dir: Path) -> list[dict[str, str]]:
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def _agent_count(rows: Sequence[dict[str, str]]) -> int:
    """Agents with a ``return_i`` column (i = 0, 1, ... without gaps)."""
    count = 0
    while rows and f"return_{count}" in rows[0]:
        count += 1
    return count


def _column(rows: Sequence[dict[str, str]], name: str) -> np.ndarray:
    return np.array([float(r[name]) if r.get(name) not in (None, "") else np.nan for r in rows])


@dataclass
class Results:
    """Scores and statistics of every finished run, by env and algo (seeds in spec order)."""

    spec: StudySpec
    scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    """env -> algo -> (finished seeds,) score in the metric's own units."""
    curves: dict[str, dict[str, list[tuple[np.ndarray, np.ndarray]]]] = field(default_factory=dict)
    """env -> algo -> per seed (env_steps, metric)."""
    stats: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    """env -> algo -> mean over runs and iterations of cost and meta-game columns."""
    missing: list[Path] = field(default_factory=list)
    agent_returns: dict[str, dict[str, list[np.ndarray]]] = field(default_factory=dict)
    """env -> algo -> per finished seed, each agent's ``return_i`` over the last fraction of iterations."""


#: Columns summarised per algorithm (mean over iterations and runs) in the report's cost table.
STAT_COLUMNS = {
    "rho_keep_share": "keep share",
    "rho_mixed_share": "mixed rho share",
    "dominant_all": "all dominant",
    "own_gain_mean": "own gain (in-sample)",
    "own_gain_bias_mean": "in-sample bias",
    "cross_effect_ratio": "cross effect (median)",
    "time_iteration": "s / iteration",
}


def collect(spec: StudySpec, out: Path) -> Results:
    """Read every cell's metrics.csv; unfinished cells are listed in ``missing``."""
    results = Results(spec)
    per_run_stats: dict[str, dict[str, dict[str, list[float]]]] = {}
    for cell in cells(spec, out):
        env = spec.envs[cell.env]
        if run_status(cell.directory) != "finished":
            results.missing.append(cell.directory)
            continue
        rows = _rows(cell.directory)
        values = _column(rows, env.metric)
        if np.all(np.isnan(values)):
            raise ValueError(f"{cell.directory}/metrics.csv has no values of metric {env.metric!r}")
        tail = values[-max(1, math.ceil(env.last_fraction * len(values))) :]
        by_algo = results.scores.setdefault(cell.env, {})
        by_algo[cell.algo] = np.append(by_algo.get(cell.algo, np.empty(0)), np.nanmean(tail))
        results.curves.setdefault(cell.env, {}).setdefault(cell.algo, []).append(
            (_column(rows, "env_steps"), values)
        )
        agents = [_column(rows, f"return_{i}") for i in range(_agent_count(rows))]
        results.agent_returns.setdefault(cell.env, {}).setdefault(cell.algo, []).append(
            np.array([np.nanmean(a[-len(tail) :]) for a in agents])
        )
        per_run = per_run_stats.setdefault(cell.env, {}).setdefault(cell.algo, {})
        for name in (*STAT_COLUMNS, "br_steps", "predict_steps"):
            column = _column(rows, name)
            if not np.all(np.isnan(column)):
                # A ratio to a gain that can be ~0 has outliers: its typical value is the median.
                centre = np.nanmedian if name == "cross_effect_ratio" else np.nanmean
                per_run.setdefault(name, []).append(float(centre(column)))
    results.stats = {
        env: {algo: {k: float(np.mean(v)) for k, v in s.items()} for algo, s in by_algo.items()}
        for env, by_algo in per_run_stats.items()
    }
    if not results.scores:
        raise ValueError(f"study {out} has no finished run yet; run `matrl study SPEC --out {out}` first")
    return results


def normalised(results: Results) -> dict[str, np.ndarray]:
    """algo -> (runs, envs) scores, higher better, min-max scaled per env over every run of that env.

    Only algorithms with the same number of finished runs in every env are kept (rliable's matrix layout).
    """
    envs = list(results.scores)
    counts = {a: {len(results.scores[e].get(a, ())) for e in envs} for a in results.spec.algos}
    algos = [a for a, c in counts.items() if len(c) == 1 and min(c) > 0]
    out: dict[str, np.ndarray] = {}
    columns = []
    for env in envs:
        sign = 1.0 if results.spec.envs[env].higher_is_better else -1.0
        signed = {a: sign * results.scores[env][a] for a in algos}
        pooled = np.concatenate(list(signed.values()))
        low, high = float(pooled.min()), float(pooled.max())
        columns.append(
            {a: (v - low) / (high - low) if high > low else np.zeros_like(v) for a, v in signed.items()}
        )
    for algo in algos:
        out[algo] = np.stack([c[algo] for c in columns], axis=1)
    return out


def _rliable() -> tuple[Any, Any, Any]:
    try:
        from rliable import library as rly
        from rliable import metrics, plot_utils
    except ImportError as err:
        raise ImportError(RLIABLE_MISSING) from err
    return rly, metrics, plot_utils


def interval_estimates(
    scores: dict[str, np.ndarray], reps: int = 2000, seed: int = 0
) -> dict[str, dict[str, tuple[float, float, float]]]:
    """algo -> {"IQM": (point, low, high), "Mean": ...}: 95 % stratified bootstrap CIs (rliable)."""
    rly, metrics, _ = _rliable()
    np.random.seed(seed)  # noqa: NPY002 - rliable's bootstrap reads the global numpy state
    aggregate = lambda x: np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])  # noqa: E731
    points, intervals = rly.get_interval_estimates(scores, aggregate, reps=reps)
    return {
        a: {
            name: (float(points[a][k]), float(intervals[a][0][k]), float(intervals[a][1][k]))
            for k, name in enumerate(("IQM", "Mean"))
        }
        for a in scores
    }


def improvement_probabilities(
    scores: dict[str, np.ndarray], pairs: Sequence[tuple[str, str]], reps: int = 2000, seed: int = 0
) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(x, y) -> P(x > y) with its 95 % bootstrap CI (rliable), for the pairs whose algos both have scores."""
    rly, metrics, _ = _rliable()
    np.random.seed(seed)  # noqa: NPY002
    kept = [(x, y) for x, y in pairs if x in scores and y in scores and x != y]
    if not kept:
        return {}
    data = {f"{x},{y}": (scores[x], scores[y]) for x, y in kept}
    points, intervals = rly.get_interval_estimates(data, metrics.probability_of_improvement, reps=reps)
    return {
        (x, y): (
            float(np.ravel(points[f"{x},{y}"])[0]),
            float(np.ravel(intervals[f"{x},{y}"][0])[0]),
            float(np.ravel(intervals[f"{x},{y}"][1])[0]),
        )
        for x, y in kept
    }


def marl_eval_json(results: Results, points: int = 20) -> dict[str, Any]:
    """The scores in marl-eval's raw-data layout: {"matrl": {env: {algo: {seed_S: {step_k: ...}}}}}.

    Each run logs ``points`` evenly spaced iterations of its metric (sign-flipped to "higher is better" as
    ``score``) and its study score as the absolute metric.
    """
    data: dict[str, Any] = {}
    for env, by_algo in results.curves.items():
        sign = 1.0 if results.spec.envs[env].higher_is_better else -1.0
        for algo, runs in by_algo.items():
            task = data.setdefault(env, {}).setdefault(algo, {})
            for seed, (steps, values), score in zip(
                results.spec.seeds, runs, results.scores[env][algo], strict=False
            ):
                picks = np.unique(np.linspace(0, len(steps) - 1, min(points, len(steps))).round().astype(int))
                run = {
                    f"step_{k}": {"step_count": int(steps[i]), "score": [float(sign * values[i])]}
                    for k, i in enumerate(picks)
                }
                run["absolute_metrics"] = {"score": [float(sign * score)]}
                task[f"seed_{seed}"] = run
    return {"matrl": data}


def report(spec: StudySpec, out: Path, reps: int = 2000) -> Path:
    """Write ``report.md``, figures and ``marl_eval.json`` for the finished runs of a study; returns
    report.md's path."""
    results = collect(spec, out)
    _, _, plot_utils = _rliable()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = [f"# Study report: {out.name}", "", _grid_line(spec, results), ""]
    for env, by_algo in results.scores.items():
        env_spec = spec.envs[env]
        direction = "higher" if env_spec.higher_is_better else "lower"
        lines += [
            f"## {env}",
            "",
            f"`{shlex.join(env_spec.args)}`; score: `{env_spec.metric}` over the last "
            f"{env_spec.last_fraction:.0%} of iterations ({direction} is better).",
            "",
        ]
        estimates = interval_estimates({a: v[:, None] for a, v in by_algo.items()}, reps)
        signed = {a: (v if env_spec.higher_is_better else -v)[:, None] for a, v in by_algo.items()}
        probabilities = improvement_probabilities(signed, _pairs(spec, by_algo), reps)
        lines += _score_table(by_algo, estimates, probabilities, spec.reference)
        lines += _pair_table(spec, probabilities)
        lines += ["", *_stats_table(results.stats.get(env, {})), ""]
        lines += _agent_returns_section(spec, env, out, results)
        if env_spec.head_to_head:
            lines += _head_to_head_section(spec, env, out, reps)
        _plot_curves(plt, results.curves[env], env_spec, out / f"curves_{env}.png")
        lines += [f"![{env} learning curves](curves_{env}.png)", ""]
    norm = normalised(results)
    if len(results.scores) > 1 and norm:
        lines += ["## All environments (scores min-max normalised per env over every run)", ""]
        estimates = interval_estimates(norm, reps)
        probabilities = improvement_probabilities(norm, _pairs(spec, norm), reps)
        lines += _score_table(
            {a: v.mean(1) for a, v in norm.items()}, estimates, probabilities, spec.reference
        )
        lines += _pair_table(spec, probabilities)
        _plot_aggregate(plt, plot_utils, estimates, out / "aggregate.png")
        _plot_profiles(plt, plot_utils, norm, out / "profiles.png")
        lines += ["", "![aggregate](aggregate.png)", "", "![performance profiles](profiles.png)", ""]
    if results.missing:
        groups = sorted({str(p.parent.relative_to(out)) for p in results.missing})
        lines += [f"Not finished: {len(results.missing)} runs, in " + ", ".join(groups) + ".", ""]
    write_text_atomically(out / "marl_eval.json", json.dumps(marl_eval_json(results)) + "\n")
    path = out / "report.md"
    write_text_atomically(path, "\n".join(lines))
    return path


def random_returns(spec: StudySpec, env: str, out: Path) -> list[float]:
    """Mean return of each agent under the uniformly random policy over the env's ``random_episodes``, in the
    env (id and kwargs) of its first finished run; cached in OUT/ENV/random.json."""
    from matrl.config import TrainConfig
    from matrl.eval.random_policy import random_policy_returns

    episodes = spec.envs[env].random_episodes
    run = next(
        c.directory for c in cells(spec, out) if c.env == env and run_status(c.directory) == "finished"
    )
    config = TrainConfig.load(run / "config.json")
    key = {"env": config.env, "env_kwargs": config.env_kwargs, "episodes": episodes}
    cache = out / env / "random.json"
    saved = json.loads(cache.read_text()) if cache.exists() else {}
    if {k: saved.get(k) for k in key} != key:
        returns = random_policy_returns(config.env, episodes, env_kwargs=dict(config.env_kwargs))
        saved = {**key, "mean": returns.mean(0).tolist()}
        write_text_atomically(cache, json.dumps(saved) + "\n")
    return [float(v) for v in saved["mean"]]


def _agent_returns_section(spec: StudySpec, env: str, out: Path, results: Results) -> list[str]:
    """Each agent's return (mean over seeds), per algorithm, and the random policy's when asked for."""
    by_algo = results.agent_returns.get(env, {})
    width = max((len(v[0]) for v in by_algo.values() if v), default=0)
    if width == 0:
        return []
    rows = {a: np.mean(np.stack(v), axis=0) for a, v in by_algo.items()}
    if spec.envs[env].random_episodes:
        rows["random policy"] = np.asarray(random_returns(spec, env, out))
    fraction = f"{spec.envs[env].last_fraction:.0%}"
    episodes = spec.envs[env].random_episodes
    yardstick = f"; the random policy: {episodes} episodes" if episodes else ""
    lines = [
        f"Each agent's return per episode (mean over seeds of the last {fraction} of iterations{yardstick}):",
        "",
        "| | " + " | ".join(f"agent {i}" for i in range(width)) + " | sum |",
        "|" + "---|" * (width + 2),
    ]
    for label, values in rows.items():
        lines.append(f"| {label} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {values.sum():.2f} |")
    return [*lines, ""]


def head_to_head_scores(spec: StudySpec, env: str, out: Path) -> dict[str, dict[str, list[list[float]]]]:
    """Seat-balanced head-to-head scores (X's seeds x Y's seeds) of every pair of algorithms and of each
    against the random policy, from the finished runs' final policies; cached per pair in
    OUT/ENV/head_to_head.json (a pair is replayed when its runs' last checkpoints or the episodes change)."""
    from matrl.eval.head_to_head import RANDOM, final_model, head_to_head

    episodes = spec.envs[env].head_to_head
    runs = {algo: [out / env / algo / f"seed_{seed}" for seed in spec.seeds] for algo in spec.algos}
    runs = {a: [r for r in rs if run_status(r) == "finished"] for a, rs in runs.items()}
    runs = {a: rs for a, rs in runs.items() if rs}
    models = {a: [str(final_model(r)) for r in rs] for a, rs in runs.items()}
    cache = out / env / "head_to_head.json"
    saved = json.loads(cache.read_text()) if cache.exists() else {}
    pairs = {} if saved.get("episodes") != episodes else dict(saved.get("pairs", {}))
    scores: dict[str, dict[str, list[list[float]]]] = {}
    algos = list(runs)
    for i, x in enumerate(algos):
        scores.setdefault(x, {})
        for y in [*algos[i + 1 :], RANDOM]:
            key = f"{x} vs {y}"
            wanted = [models[x], models.get(y, [])]
            if pairs.get(key, {}).get("models") != wanted:  # a pair is replayed only when its runs change
                result = head_to_head(x, runs[x], y, runs.get(y, []), episodes=episodes)
                pairs[key] = {"models": wanted, "scores": result.scores.tolist()}
                write_text_atomically(cache, json.dumps({"episodes": episodes, "pairs": pairs}) + "\n")
            played = np.asarray(pairs[key]["scores"])
            scores[x][y] = played.tolist()
            if y != RANDOM:
                scores.setdefault(y, {})[x] = (-played.T).tolist()
    return scores


def _head_to_head_section(spec: StudySpec, env: str, out: Path, reps: int) -> list[str]:
    from matrl.eval.head_to_head import RANDOM, HeadToHead

    scores = head_to_head_scores(spec, env, out)
    algos = list(scores)
    lines = [
        f"### Head-to-head ({spec.envs[env].head_to_head} games per seat pairing, seats balanced)",
        "",
        "Row algorithm against column algorithm: mean over seed pairs of the seat-balanced score (half the "
        "return difference, averaged over both role assignments; > 0: the row wins), 95 % bootstrap interval "
        "(seeds of both resampled), and the share of seed pairs the row wins.",
        "",
        "| | " + " | ".join([*algos, RANDOM]) + " | mean vs the others |",
        "|" + "---|" * (len(algos) + 3),
    ]
    for x in algos:
        cells, against_others = [], []
        for y in [*algos, RANDOM]:
            if y == x:
                cells.append("0")
                continue
            result = HeadToHead(x, y, np.asarray(scores[x][y]))
            low, high = result.interval(reps)
            cells.append(f"{result.mean:+.3f} [{low:+.3f}, {high:+.3f}] ({result.win_share:.0%})")
            if y != RANDOM:
                against_others.append(result.mean)
        overall = f"{np.mean(against_others):+.3f}" if against_others else "-"
        lines.append(f"| {x} | " + " | ".join(cells) + f" | {overall} |")
    return [*lines, ""]


def _pairs(spec: StudySpec, scored: dict[str, Any]) -> list[tuple[str, str]]:
    """Every algo against the reference, then the spec's own pairs."""
    against = [(a, spec.reference) for a in scored if spec.reference is not None and a != spec.reference]
    return against + [p for p in spec.pairs if p not in against]


def _pair_table(
    spec: StudySpec, probabilities: dict[tuple[str, str], tuple[float, float, float]]
) -> list[str]:
    rows = [
        f"| {x} | {y} | {_fmt(probabilities[(x, y)])} |" for x, y in spec.pairs if (x, y) in probabilities
    ]
    if not rows:
        return []
    return ["", "| X | Y | P(X > Y) [95 % CI] |", "|---|---|---|", *rows]


def _grid_line(spec: StudySpec, results: Results) -> str:
    done = sum(len(v) for by_algo in results.scores.values() for v in by_algo.values())
    return (
        f"{len(spec.envs)} envs x {len(spec.algos)} algos x {len(spec.seeds)} seeds; {done} runs finished. "
        "Intervals: 95 % stratified bootstrap (rliable). P(>ref): probability of improvement over "
        f"`{spec.reference}`."
    )


def _fmt(estimate: tuple[float, float, float]) -> str:
    point, low, high = estimate
    return f"{point:.3f} [{low:.3f}, {high:.3f}]"


def _score_table(
    by_algo: dict[str, np.ndarray],
    estimates: dict[str, dict[str, tuple[float, float, float]]],
    probabilities: dict[tuple[str, str], tuple[float, float, float]],
    reference: str | None,
) -> list[str]:  # probabilities: (algo, reference) -> P(algo > reference)
    lines = ["| algo | runs | IQM [95 % CI] | mean [95 % CI] | P(> ref) [95 % CI] |", "|---|---|---|---|---|"]
    for algo, values in by_algo.items():
        prob = (
            _fmt(probabilities[(algo, reference)])
            if reference is not None and (algo, reference) in probabilities
            else ("reference" if algo == reference else "")
        )
        iqm, mean = _fmt(estimates[algo]["IQM"]), _fmt(estimates[algo]["Mean"])
        lines.append(f"| {algo} | {len(values)} | {iqm} | {mean} | {prob} |")
    return lines


def _stats_table(stats: dict[str, dict[str, float]]) -> list[str]:
    names = [n for n in STAT_COLUMNS if any(n in s for s in stats.values())]
    header = "| algo | grad steps / iter | " + " | ".join(STAT_COLUMNS[n] for n in names) + " |"
    lines = [header, "|---" * (len(names) + 2) + "|"]
    for algo, s in stats.items():
        steps = s.get("predict_steps", 0.0) + s.get("br_steps", 0.0)
        cells_ = [f"{s[n]:.4g}" if n in s else "" for n in names]
        lines.append(f"| {algo} | {steps:.1f} | " + " | ".join(cells_) + " |")
    return lines


def _plot_curves(
    plt: Any, curves: dict[str, list[tuple[np.ndarray, np.ndarray]]], env: EnvSpec, path: Path
) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for algo, runs in curves.items():
        length = min(len(v) for _, v in runs)
        steps = runs[0][0][:length]
        values = np.stack([v[:length] for _, v in runs])
        mean = np.nanmean(values, 0)
        sem = np.nanstd(values, 0) / math.sqrt(len(runs))
        ax.plot(steps, mean, label=f"{algo} ({len(runs)})")
        ax.fill_between(steps, mean - sem, mean + sem, alpha=0.2)
    ax.set_xlabel("env steps")
    ax.set_ylabel(env.metric)
    ax.set_title(" ".join(env.args) + "\n(mean and s.e.m. over seeds)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_aggregate(
    plt: Any, plot_utils: Any, estimates: dict[str, dict[str, tuple[float, float, float]]], path: Path
) -> None:
    algos = list(estimates)
    points = {a: np.array([estimates[a][m][0] for m in ("IQM", "Mean")]) for a in algos}
    intervals = {a: np.array([[estimates[a][m][k] for m in ("IQM", "Mean")] for k in (1, 2)]) for a in algos}
    fig, _ = plot_utils.plot_interval_estimates(
        points, intervals, metric_names=["IQM", "Mean"], algorithms=algos, xlabel="normalised score"
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _plot_profiles(plt: Any, plot_utils: Any, norm: dict[str, np.ndarray], path: Path) -> None:
    rly, _, _ = _rliable()
    taus = np.linspace(0.0, 1.0, 51)
    profiles, cis = rly.create_performance_profile(norm, taus, reps=500)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_utils.plot_performance_profiles(
        profiles, taus, performance_profile_cis=cis, xlabel=r"normalised score $\tau$", ax=ax
    )
    ax.legend(list(norm), fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
