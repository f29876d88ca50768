"""Learning curves over seeds (the paper's Fig. 5): load run directories, align, average, plot, tabulate.

A run directory holds ``config.json`` (with at least ``env``, ``algo`` and ``seed``) and ``metrics.csv`` (one
row per iteration, with at least ``iteration``, cumulative ``env_steps`` and ``total_return``). Runs are
grouped by env (one panel each) and run label (one line each, `label_runs`): by default the algo, followed by
a short hash of the run's non-default settings where runs of one env and algo differ in them, so that two
settings that share env, algo and seed are two lines, never one merged line or a clash. The seeds of a group
are compared on a common grid of environment steps, since iterations of different seeds need not collect the
same number of steps.

Iterations in which no episode ended log an empty (NaN) return; they are dropped before smoothing and
interpolation, so the curve between two reported iterations is the straight line between them. The grid of a
group spans only the env steps that every seed has reported (from the latest first report to the earliest last
report), so every grid point is a mean over all seeds and nothing is extrapolated.

Spread across seeds is the population standard deviation (``ddof=0``), so a single seed has a zero band
rather than an undefined one; the legend and the table always show the seed count.

matplotlib is imported only inside `plot_curves`, so tables do not pay for it.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

from matrl.fileio import write_atomically

FloatArray = npt.NDArray[np.float64]

#: Columns every metrics.csv must have.
REQUIRED_COLUMNS = ("iteration", "env_steps", "total_return")
#: Fixed colours for the paper's algorithms (MATRL strong and on top); others take the remaining ones in
#: alphabetical order, the same in every subplot of a figure.
ALGO_COLOURS = {"matrl": "tab:red", "il": "tab:blue", "il-pp": "tab:green", "matrl-nobr": "tab:orange"}
_SPARE_COLOURS = ("tab:purple", "tab:brown", "tab:pink", "tab:gray", "tab:olive", "tab:cyan")
BANDS = ("std", "minmax")


@dataclass(frozen=True, eq=False)
class Run:
    """One training run: its identity (env, algo, seed) and its metrics, one value per iteration."""

    path: Path
    env: str
    algo: str
    seed: int
    env_steps: npt.NDArray[np.int64]
    total_return: FloatArray
    columns: Mapping[str, FloatArray] = field(repr=False)
    config: Mapping[str, object] = field(repr=False)
    label: str = ""
    """The run's line in plots and tables (`label_runs`); empty until labelled."""

    @property
    def n_iterations(self) -> int:
        return len(self.env_steps)

    def column(self, name: str) -> FloatArray:
        """A metric column as floats (empty cells are NaN); ValueError naming the run if it is absent."""
        if name not in self.columns:
            names = sorted(self.columns)
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            raise ValueError(f"{self.path}: no numeric column {name!r} in metrics.csv (has: {shown})")
        return self.columns[name]


def load_run(run_dir: Path) -> Run:
    """Read one run directory; every error is one line naming the offending file."""
    run_dir = Path(run_dir)
    config_path, metrics_path = run_dir / "config.json", run_dir / "metrics.csv"
    for p in (config_path, metrics_path):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: missing (a run directory needs config.json and metrics.csv)")
    config, env, algo, seed = _read_config(config_path)
    columns = _read_metrics(metrics_path)
    steps = columns["env_steps"]
    if not np.all(np.isfinite(steps)) or np.any(steps != np.round(steps)):
        raise ValueError(f"{metrics_path}: env_steps must be integers in every row")
    if np.any(np.diff(steps) < 0):
        raise ValueError(f"{metrics_path}: env_steps decreases; it must be cumulative")
    return Run(
        path=run_dir,
        env=env,
        algo=algo,
        seed=seed,
        env_steps=steps.astype(np.int64),
        total_return=columns["total_return"],
        columns=columns,
        config=config,
    )


def _read_config(path: Path) -> tuple[dict[str, object], str, str, int]:
    """The config and its (env, algo, seed)."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(config).__name__}")
    for key, kind in (("env", str), ("algo", str), ("seed", int)):
        value = config.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"{path}: key {key!r} must be a {kind.__name__}, got {value!r}")
    return config, config["env"], config["algo"], config["seed"]


def _read_metrics(path: Path) -> dict[str, FloatArray]:
    """Numeric columns of a metrics CSV; non-numeric columns are left out.

    The file is appended to during training, so a reader may catch a half-written last line: a final line
    without its newline is ignored.
    """
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n") and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if r]
    if not rows:
        raise ValueError(f"{path}: empty, expected a header row")
    header, body = rows[0], rows[1:]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{path}: missing required column(s) {', '.join(missing)}")
    if len(set(header)) != len(header):
        raise ValueError(f"{path}: duplicate column names in the header")
    if not body:
        raise ValueError(f"{path}: no iteration rows yet")
    for i, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}: line {i} has {len(row)} fields, the header has {len(header)}")
    columns: dict[str, FloatArray] = {}
    for j, name in enumerate(header):
        try:
            columns[name] = np.array([float(r[j]) if r[j].strip() else math.nan for r in body])
        except ValueError:
            if name in REQUIRED_COLUMNS:
                raise ValueError(f"{path}: column {name!r} holds a non-numeric value") from None
    return columns


def find_runs(paths: Sequence[Path]) -> list[Run]:
    """Runs at or below the given paths (a run directory, or any directory holding run directories).

    A directory with ``config.json`` is taken as a run directory (and must be complete); below the others
    every directory holding both files is a run. Each run appears once, sorted by (env, algo, seed, path).
    """
    found: dict[Path, Run] = {}
    for path in map(Path, paths):
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or directory")
        if not path.is_dir():
            raise ValueError(f"{path}: not a directory (give a run directory or a directory of runs)")
        if (path / "config.json").is_file():
            dirs = [path]
        else:
            dirs = sorted(p.parent for p in path.rglob("metrics.csv") if (p.parent / "config.json").is_file())
        for d in dirs:
            key = d.resolve()
            if key not in found:
                found[key] = load_run(d)
    if not found:
        raise ValueError(f"no run directories (config.json + metrics.csv) under {', '.join(map(str, paths))}")
    return sorted(found.values(), key=lambda r: (r.env, r.algo, r.seed, str(r.path)))


#: Config keys that change neither what a run learns nor how: left out of the settings hash of a run label.
#: (``total_steps`` only says how far it went: a longer run of the same settings belongs to the same line.)
LABEL_IGNORED: tuple[str, ...] = ("env", "algo", "seed", "total_steps", "threads", "address")
LABEL_IGNORED += ("checkpoint_every", "checkpoint_every_seconds")
#: ``--group-by`` values besides a list of config keys.
GROUPINGS = ("config", "algo")
_FIELD = re.compile(r"\{([^{}]*)\}")


def _flat(config: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """Nested config sections as dotted keys (``ppo.lr``)."""
    out: dict[str, object] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and key != "env_kwargs":
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def non_default_settings(run: Run) -> dict[str, object]:
    """The run's settings that differ from the preset of its env and algo (`matrl.config.preset`), dotted
    keys, leaving out `LABEL_IGNORED`; a key the preset lacks counts as non-default."""
    from matrl.config import preset

    try:
        defaults = _flat(json.loads(json.dumps(preset(run.env, run.algo).to_dict())))  # as config.json has it
    except Exception:  # an algo or env this version does not know: every setting counts
        defaults = {}
    return {
        k: v
        for k, v in sorted(_flat(run.config).items())
        if k not in LABEL_IGNORED and (k not in defaults or defaults[k] != v)
    }


def settings_hash(run: Run) -> str:
    """Six hex digits naming the run's non-default settings ("" when it has none); the same settings give
    the same hash in every plot."""
    settings = non_default_settings(run)
    if not settings:
        return ""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def _setting(run: Run, key: str, what: str) -> object:
    """A config value by dotted key (``hash``: `settings_hash`), or one line naming the key."""
    if key == "hash":
        return settings_hash(run)
    flat = _flat(run.config)
    if key not in flat:
        shown = ", ".join(["hash", *sorted(flat)][:40])
        where = run.path / "config.json"
        raise ValueError(f"{what}: {where} has no setting {key!r}; expected one of {shown}")
    return flat[key]


def label_runs(runs: Sequence[Run], group_by: str = "config", label: str | None = None) -> list[Run]:
    """Each run with its label, which makes the lines of plots and tables.

    ``group_by``: ``config`` (the algo, plus `settings_hash` in brackets where the runs of one env and algo
    have more than one set of settings), ``algo`` (one line per algo whatever the settings), or config keys
    separated by commas (``algo,ppo.lr``: one line per combination). ``label`` renders the legend instead:
    a template such as ``"{algo} lr={ppo.lr}"`` of config keys and ``{hash}``; two groups of one env given
    the same text are refused in one line.
    """
    if group_by not in GROUPINGS:
        keys = [k.strip() for k in group_by.split(",")]
        if not all(keys):
            raise ValueError(
                f"--group-by {group_by!r} is not allowed; expected {', '.join(GROUPINGS)} or config keys "
                "separated by commas, e.g. algo,ppo.lr"
            )
    several: set[tuple[str, str]] = set()
    if group_by == "config":
        hashes: dict[tuple[str, str], set[str]] = {}
        for run in runs:
            hashes.setdefault((run.env, run.algo), set()).add(settings_hash(run))
        several = {key for key, found in hashes.items() if len(found) > 1}
    groups: list[Run] = []
    for run in runs:
        if group_by == "algo":
            group = run.algo
        elif (run.env, run.algo) in several:  # config: tell the settings apart
            group = f"{run.algo} [{settings_hash(run) or 'preset'}]"
        elif group_by == "config":
            group = run.algo
        else:
            parts = [(k, _setting(run, k, f"--group-by {group_by}")) for k in keys]
            group = " ".join(str(v) if k == "algo" else f"{k}={v}" for k, v in parts)
        groups.append(dataclasses.replace(run, label=group))
    if label is None:
        return groups
    shown: dict[tuple[str, str], str] = {}
    out = []
    for run in groups:
        values = {key: str(_setting(run, key, f"--label {label!r}")) for key in _FIELD.findall(label)}
        text = label
        for key, value in values.items():
            text = text.replace(f"{{{key}}}", value)
        for (env, text_of), group in shown.items():
            if env == run.env and text_of == text and group != run.label:
                raise ValueError(
                    f"--label {label!r} gives two groups of env {env!r} the same text {text!r} ({group} and "
                    f"{run.label}); add a setting that tells them apart, e.g. {{hash}}"
                )
        shown[run.env, text] = run.label
        out.append(dataclasses.replace(run, label=text))
    return out


def describe_labels(runs: Sequence[Run]) -> list[str]:
    """One line per label that carries a settings hash, saying which settings it stands for."""
    lines: dict[str, str] = {}
    for run in runs:
        digest = settings_hash(run)
        if digest and f"[{digest}]" in run.label and run.label not in lines:
            settings = ", ".join(f"{k}={v}" for k, v in non_default_settings(run).items())
            lines[run.label] = f"{run.label}: {settings}"
    return list(lines.values())


def group_runs(runs: Sequence[Run]) -> dict[tuple[str, str], list[Run]]:
    """Runs by (env, label), sorted (unlabelled runs get `label_runs`'s default labels); a seed twice in a
    group is an error: the same settings run twice, likely a copied run directory."""
    if any(not run.label for run in runs):
        runs = label_runs(runs)
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.env, run.label), []).append(run)
    for (env, label), members in groups.items():
        seen: dict[int, Path] = {}
        for run in members:
            if run.seed in seen:
                raise ValueError(
                    f"env {env!r}, {label!r}: seed {run.seed} appears twice ({seen[run.seed]} and "
                    f"{run.path}); remove a copied run directory, or tell them apart with --group-by or "
                    "--label"
                )
            seen[run.seed] = run.path
        members.sort(key=lambda r: r.seed)
    return dict(sorted(groups.items()))


@dataclass(frozen=True)
class MovingAverage:
    """Trailing mean over the last ``window`` reported iterations (fewer at the start); lags by ~window/2."""

    window: int

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"moving-average window must be >= 1, got {self.window}")

    def apply(self, y: FloatArray) -> FloatArray:
        c = np.concatenate([[0.0], np.cumsum(y)])
        i = np.arange(len(y))
        lo = np.maximum(0, i - self.window + 1)
        return np.asarray((c[i + 1] - c[lo]) / (i + 1 - lo), dtype=np.float64)


@dataclass(frozen=True)
class Ema:
    """Exponential moving average ``s_t = w s_{t-1} + (1 - w) y_t``, debiased as TensorBoard's smoothing.

    Debiasing (dividing by ``1 - w^(t+1)``) keeps the start from being pulled towards zero.
    """

    weight: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight < 1.0:
            raise ValueError(f"EMA weight must be in [0, 1), got {self.weight}")

    def apply(self, y: FloatArray) -> FloatArray:
        w = self.weight
        s = lfilter([1.0 - w], [1.0, -w], y)
        return np.asarray(s / (1.0 - w ** np.arange(1, len(y) + 1)), dtype=np.float64)


Smoothing = MovingAverage | Ema


def parse_smoothing(spec: str) -> Smoothing | None:
    """``"none"``, ``"ma:WINDOW"`` (e.g. ``ma:10``) or ``"ema:WEIGHT"`` (e.g. ``ema:0.9``), for the CLI."""
    text = spec.strip().lower()
    if text in ("", "none", "0"):
        return None
    kind, _, value = text.partition(":")
    try:
        if kind == "ma":
            return MovingAverage(int(value))
        if kind == "ema":
            return Ema(float(value))
    except ValueError as e:
        raise ValueError(f"bad smoothing {spec!r}: {e}") from None
    raise ValueError(f"bad smoothing {spec!r}: expected none, ma:WINDOW or ema:WEIGHT")


@dataclass(frozen=True, eq=False)
class Curve:
    """One (env, label) group on its common grid; ``values[i]`` is seed ``seeds[i]``'s interpolated curve."""

    env: str
    algo: str
    """The group's label (`label_runs`): the algo, unless settings or --label tell groups apart."""
    metric: str
    seeds: tuple[int, ...]
    grid: FloatArray
    values: FloatArray
    mean: FloatArray
    std: FloatArray
    min: FloatArray
    max: FloatArray

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)


def _reported(run: Run, metric: str) -> tuple[FloatArray, FloatArray]:
    """(env steps, values) of the iterations that reported the metric (non-NaN)."""
    y = run.column(metric)
    keep = ~np.isnan(y)
    if not keep.any():
        raise ValueError(f"{run.path}: {metric!r} is empty in every iteration")
    if not np.all(np.isfinite(y[keep])):
        raise ValueError(f"{run.path}: {metric!r} holds an infinite value")
    return run.env_steps[keep].astype(np.float64), y[keep]


def aggregate(
    runs: Sequence[Run], metric: str = "total_return", grid_points: int = 100, smooth: Smoothing | None = None
) -> dict[tuple[str, str], Curve]:
    """Per (env, label): each seed's curve (NaN rows dropped, then smoothed) interpolated on a shared grid.

    The grid runs from the latest first report to the earliest last report among the group's seeds, so the
    statistics at every point use all seeds and no seed is extrapolated.
    """
    if grid_points < 2:
        raise ValueError(f"grid_points must be >= 2, got {grid_points}")
    curves: dict[tuple[str, str], Curve] = {}
    for (env, algo), members in group_runs(runs).items():
        points = [_reported(r, metric) for r in members]
        if smooth is not None:
            points = [(x, smooth.apply(y)) for x, y in points]
        start = max(x[0] for x, _ in points)
        stop = min(x[-1] for x, _ in points)
        if stop < start:
            raise ValueError(
                f"env {env!r}, {algo!r}: the seeds' reported env steps do not overlap "
                f"(latest first report {start:g} > earliest last report {stop:g})"
            )
        grid = np.linspace(start, stop, grid_points)
        values = np.stack([np.interp(grid, x, y) for x, y in points])
        curves[env, algo] = Curve(
            env=env,
            algo=algo,
            metric=metric,
            seeds=tuple(r.seed for r in members),
            grid=grid,
            values=values,
            mean=values.mean(axis=0),
            std=values.std(axis=0),
            min=values.min(axis=0),
            max=values.max(axis=0),
        )
    return curves


def algo_colours(algos: Sequence[str]) -> dict[str, str]:
    """Colour per algorithm: fixed for the paper's ones, the spare ones in alphabetical order for the rest."""
    others = sorted(a for a in set(algos) if a not in ALGO_COLOURS)
    colours = {a: ALGO_COLOURS[a] for a in algos if a in ALGO_COLOURS}
    colours.update({a: _SPARE_COLOURS[i % len(_SPARE_COLOURS)] for i, a in enumerate(others)})
    return colours


def _algo_order(algo: str) -> tuple[int, str]:
    """The paper's algorithms first, in its order; MATRL first in the legend (and drawn last, on top)."""
    known = list(ALGO_COLOURS)
    return (known.index(algo) if algo in known else len(known), algo)


def plot_curves(
    runs: Sequence[Run],
    out: Path,
    metric: str = "total_return",
    band: str = "std",
    smooth: Smoothing | None = None,
    title: str | None = None,
    grid_points: int = 100,
) -> Path:
    """One subplot per env, one line per run label (`label_runs`) with a band (mean ± std, or min..max over
    seeds), as a PNG.

    The file is written atomically, so a viewer refreshing it during training never sees half an image.
    """
    if band not in BANDS:
        raise ValueError(f"band must be one of {', '.join(BANDS)}, got {band!r}")
    from matplotlib.figure import Figure
    from matplotlib.ticker import EngFormatter

    curves = aggregate(runs, metric=metric, grid_points=grid_points, smooth=smooth)
    envs = sorted({env for env, _ in curves})
    colours = algo_colours([algo for _, algo in curves])
    ncols = min(len(envs), 3)
    nrows = math.ceil(len(envs) / ncols)
    fig = Figure(figsize=(4.8 * ncols, 3.6 * nrows + (0.4 if title else 0.0)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(envs) :]:
        ax.set_visible(False)
    for ax, env in zip(axes, envs, strict=False):
        algos = sorted((a for e, a in curves if e == env), key=_algo_order)
        for rank, algo in enumerate(algos):
            c = curves[env, algo]
            lo, hi = (c.mean - c.std, c.mean + c.std) if band == "std" else (c.min, c.max)
            z = 2 * (len(algos) - rank)  # first in the legend is drawn on top
            strong = algo == "matrl"
            ax.fill_between(c.grid, lo, hi, color=colours[algo], alpha=0.2, linewidth=0, zorder=z)
            ax.plot(
                c.grid,
                c.mean,
                color=colours[algo],
                linewidth=2.2 if strong else 1.4,
                label=f"{algo} (n={c.n_seeds})",
                zorder=z + 1,
            )
        ax.set_title(env)
        ax.set_xlabel("environment steps")
        ax.set_ylabel(metric)
        ax.xaxis.set_major_formatter(EngFormatter())
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return write_atomically(Path(out), lambda tmp: fig.savefig(tmp, format="png", dpi=120))


class SummaryRow(TypedDict):
    """One (env, label) line of `summary_table` (``algo`` holds the label); ``per_seed[i]`` belongs to
    ``seeds[i]``."""

    env: str
    algo: str
    metric: str
    at_steps: int | None
    last_fraction: float
    n_seeds: int
    seeds: list[int]
    per_seed: list[float]
    mean: float
    std: float


def _final(run: Run, metric: str, at_steps: int | None, last_fraction: float) -> float:
    """Mean over the last ``last_fraction`` of iterations ignoring NaN (NaN if none reported), or the
    interpolated value at ``at_steps``."""
    if at_steps is None:
        y = run.column(metric)
        tail = y[-max(1, math.ceil(last_fraction * len(y))) :]
        tail = tail[~np.isnan(tail)]
        return float(tail.mean()) if len(tail) else math.nan
    x, y = _reported(run, metric)
    if not x[0] <= at_steps <= x[-1]:
        raise ValueError(
            f"{run.path}: {metric!r} is reported only between {x[0]:g} and {x[-1]:g} env steps, "
            f"not at {at_steps}"
        )
    return float(np.interp(at_steps, x, y))


def summary_table(
    runs: Sequence[Run], metric: str = "total_return", at_steps: int | None = None, last_fraction: float = 0.1
) -> list[SummaryRow]:
    """Final performance per (env, label): per seed, then mean and (population) std across seeds.

    Averaging the last fraction of iterations, rather than taking the last one, damps the noise of a
    single iteration's episodes.
    """
    if not 0.0 < last_fraction <= 1.0:
        raise ValueError(f"last_fraction must be in (0, 1], got {last_fraction}")
    rows: list[SummaryRow] = []
    for (env, algo), members in group_runs(runs).items():
        per_seed = np.array([_final(r, metric, at_steps, last_fraction) for r in members])
        rows.append(
            SummaryRow(
                env=env,
                algo=algo,
                metric=metric,
                at_steps=at_steps,
                last_fraction=last_fraction,
                n_seeds=len(members),
                seeds=[r.seed for r in members],
                per_seed=[float(v) for v in per_seed],
                mean=float(per_seed.mean()),
                std=float(per_seed.std()),
            )
        )
    return rows


def format_markdown(rows: Sequence[SummaryRow], digits: int = 2) -> str:
    """A Markdown table: env | algo | seeds | final <metric> mean ± std (header from the first row)."""
    if not rows:
        raise ValueError("no rows to format")
    first = rows[0]
    what = "return" if first["metric"] == "total_return" else first["metric"]
    if first["at_steps"] is not None:
        head = f"{what} at {first['at_steps']} steps, mean ± std"
    else:
        head = f"final {what}, mean ± std"

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"| env | algo | seeds | {cell(head)} |", "| --- | --- | ---: | ---: |"]
    for r in rows:
        value = f"{r['mean']:.{digits}f} ± {r['std']:.{digits}f}"
        lines.append(f"| {cell(r['env'])} | {cell(r['algo'])} | {r['n_seeds']} | {value} |")
    return "\n".join(lines) + "\n"
