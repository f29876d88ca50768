"""Learning curves over seeds: loading run directories, alignment on a shared grid, plots and tables."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from matrl.eval.curves import (
    Ema,
    MovingAverage,
    aggregate,
    algo_colours,
    find_runs,
    format_markdown,
    load_run,
    parse_smoothing,
    plot_curves,
    summary_table,
)

Value = float | str


def write_run(
    root: Path,
    env: str = "pong",
    algo: str = "matrl",
    seed: int = 0,
    steps: Sequence[int] = (100, 200, 300),
    returns: Sequence[Value] = (1.0, 2.0, 3.0),
    extra: Mapping[str, Sequence[Value]] | None = None,
    name: str | None = None,
) -> Path:
    """A run directory as training leaves it (empty cells where no episode ended)."""
    run = root / (name or f"{env}-{algo}-s{seed}")
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"env": env, "algo": algo, "seed": seed, "lr": 3e-4}))
    extra = dict(extra or {})
    header = ["iteration", "env_steps", "total_return", *extra]
    lines = [",".join(header)]
    for i, (s, r) in enumerate(zip(steps, returns, strict=True)):
        cells = [str(i + 1), str(s), "" if r == "" else str(r), *(str(v[i]) for v in extra.values())]
        lines.append(",".join(cells))
    (run / "metrics.csv").write_text("\n".join(lines) + "\n")
    return run


# --- loading ------------------------------------------------------------------------------------------------


def test_load_run_reads_identity_and_columns(tmp_path: Path) -> None:
    path = write_run(tmp_path, returns=(1.5, "", "nan"), extra={"rho_0": (0.1, 0.2, 0.3), "solver": "abc"})
    run = load_run(path)
    assert (run.path, run.env, run.algo, run.seed) == (path, "pong", "matrl", 0)
    assert run.env_steps.tolist() == [100, 200, 300]
    assert run.env_steps.dtype == np.int64
    assert run.total_return[0] == 1.5
    assert np.isnan(run.total_return[1:]).all()
    np.testing.assert_array_equal(run.column("rho_0"), [0.1, 0.2, 0.3])
    assert run.config["lr"] == 3e-4
    with pytest.raises(ValueError, match=r"no numeric column 'solver'"):
        run.column("solver")  # text columns are not metrics
    with pytest.raises(ValueError, match=r"no numeric column 'nope'.*rho_0"):
        run.column("nope")


def test_load_run_ignores_a_half_written_last_line(tmp_path: Path) -> None:
    path = write_run(tmp_path)
    with (path / "metrics.csv").open("a") as f:
        f.write("4,40")  # training is appending the next row right now
    assert load_run(path).n_iterations == 3


@pytest.mark.parametrize(
    ("breakage", "error", "pattern"),
    [
        (lambda p: (p / "config.json").unlink(), FileNotFoundError, "config.json: missing"),
        (lambda p: (p / "metrics.csv").unlink(), FileNotFoundError, "metrics.csv: missing"),
        (lambda p: (p / "config.json").write_text("{oops"), ValueError, "config.json: not valid JSON"),
        (lambda p: (p / "config.json").write_text("[1]"), ValueError, "expected a JSON object"),
        (
            lambda p: (p / "config.json").write_text('{"env": "e", "algo": "a"}'),
            ValueError,
            "key 'seed' must be a int",
        ),
        (
            lambda p: (p / "config.json").write_text('{"env": "e", "algo": "a", "seed": true}'),
            ValueError,
            "key 'seed'",
        ),
        (lambda p: (p / "metrics.csv").write_text(""), ValueError, "empty"),
        (
            lambda p: (p / "metrics.csv").write_text("iteration,env_steps\n1,10\n"),
            ValueError,
            "missing required column.*total_return",
        ),
        (
            lambda p: (p / "metrics.csv").write_text("iteration,env_steps,total_return\n"),
            ValueError,
            "no iteration rows",
        ),
        (
            lambda p: (p / "metrics.csv").write_text("iteration,env_steps,total_return\n1,10\n"),
            ValueError,
            "line 2 has 2 fields",
        ),
        (
            lambda p: (p / "metrics.csv").write_text("iteration,env_steps,total_return\n1,20,0\n2,10,0\n"),
            ValueError,
            "env_steps decreases",
        ),
        (
            lambda p: (p / "metrics.csv").write_text("iteration,env_steps,total_return\n1,,0\n"),
            ValueError,
            "env_steps must be integers",
        ),
        (
            lambda p: (p / "metrics.csv").write_text("iteration,env_steps,total_return\n1,10,x\n"),
            ValueError,
            "'total_return' holds a non-numeric",
        ),
    ],
)
def test_load_run_errors_name_the_file(tmp_path: Path, breakage: object, error: type, pattern: str) -> None:
    path = write_run(tmp_path)
    breakage(path)  # type: ignore[operator]
    with pytest.raises(error, match=pattern) as info:
        load_run(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_find_runs_searches_any_depth_and_dedups(tmp_path: Path) -> None:
    a = write_run(tmp_path / "exp" / "deep" / "er", seed=1)
    b = write_run(tmp_path / "exp", seed=0)
    (tmp_path / "exp" / "notes").mkdir()
    (tmp_path / "exp" / "notes" / "metrics.csv").write_text("x\n")  # no config.json: not a run
    runs = find_runs([tmp_path / "exp", a])  # overlapping paths: each run once
    assert [r.path for r in runs] == [b, a]  # sorted by seed
    assert [r.seed for r in find_runs([a])] == [1]


def test_find_runs_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        find_runs([tmp_path / "nowhere"])
    with pytest.raises(ValueError, match="no run directories"):
        find_runs([tmp_path])
    half = tmp_path / "half"
    half.mkdir()
    (half / "config.json").write_text('{"env": "e", "algo": "a", "seed": 0}')
    with pytest.raises(FileNotFoundError, match=r"half.metrics\.csv: missing"):
        find_runs([half])  # named explicitly as a run, so it must be complete


# --- aggregation --------------------------------------------------------------------------------------------


def test_aggregate_groups_by_env_and_algo(tmp_path: Path) -> None:
    for env in ("pong", "checkers"):
        for algo, seeds in (("matrl", (0, 1, 2)), ("il", (0, 1))):
            for seed in seeds:
                write_run(tmp_path, env=env, algo=algo, seed=seed)
    curves = aggregate(find_runs([tmp_path]), grid_points=5)
    assert list(curves) == [("checkers", "il"), ("checkers", "matrl"), ("pong", "il"), ("pong", "matrl")]
    assert curves["pong", "matrl"].n_seeds == 3
    assert curves["pong", "matrl"].seeds == (0, 1, 2)
    assert curves["checkers", "il"].n_seeds == 2
    assert curves["pong", "il"].values.shape == (2, 5)


def test_aggregate_matches_hand_computation_on_linear_curves(tmp_path: Path) -> None:
    # Seed 0 logs every 100 steps, seed 1 every 250: interpolation of lines is exact, so at any x the
    # values are 0.01 x and 0.03 x, mean 0.02 x, population std 0.01 x.
    s0 = list(range(0, 1001, 100))
    s1 = list(range(0, 1001, 250))
    write_run(tmp_path, seed=0, steps=s0, returns=[0.01 * x for x in s0])
    write_run(tmp_path, seed=1, steps=s1, returns=[0.03 * x for x in s1])
    c = aggregate(find_runs([tmp_path]), grid_points=11)["pong", "matrl"]
    np.testing.assert_allclose(c.grid, np.linspace(0, 1000, 11))
    np.testing.assert_allclose(c.mean, 0.02 * c.grid, atol=1e-12)
    np.testing.assert_allclose(c.std, 0.01 * c.grid, atol=1e-12)
    np.testing.assert_allclose(c.min, 0.01 * c.grid, atol=1e-12)
    np.testing.assert_allclose(c.max, 0.03 * c.grid, atol=1e-12)
    assert c.metric == "total_return"


def test_aggregate_skips_nan_rows(tmp_path: Path) -> None:
    # No episode ended at 0, 20 and 30 steps: the curve is the line between the reported neighbours, and
    # starts at the first report rather than at a made-up value.
    write_run(tmp_path, steps=(0, 10, 20, 30, 40), returns=("", 10.0, "nan", "", 40.0))
    c = aggregate(find_runs([tmp_path]), grid_points=4)["pong", "matrl"]
    np.testing.assert_allclose(c.grid, [10, 20, 30, 40])
    np.testing.assert_allclose(c.mean, [10, 20, 30, 40])


def test_aggregate_grid_stops_at_the_shortest_seed(tmp_path: Path) -> None:
    write_run(tmp_path, seed=0, steps=(0, 500, 1000), returns=(0, 5, 10))
    write_run(tmp_path, seed=1, steps=(0, 300, 600), returns=(0, 3, 6))
    c = aggregate(find_runs([tmp_path]), grid_points=7)["pong", "matrl"]
    assert c.grid[0] == 0
    assert c.grid[-1] == 600
    assert len(c.grid) == 7
    np.testing.assert_allclose(c.mean, c.grid / 100)


def test_aggregate_smooths_reported_points(tmp_path: Path) -> None:
    write_run(tmp_path, steps=(0, 10, 20, 30), returns=(0.0, "", 3.0, 6.0))
    runs = find_runs([tmp_path])
    c = aggregate(runs, grid_points=4, smooth=MovingAverage(2))["pong", "matrl"]
    # reported (0, 0), (20, 3), (30, 6) -> smoothed 0, 1.5, 4.5
    np.testing.assert_allclose(c.mean, [0.0, 0.75, 1.5, 4.5])


def test_aggregate_errors(tmp_path: Path) -> None:
    write_run(tmp_path, seed=0, returns=("", "", ""))
    with pytest.raises(ValueError, match="'total_return' is empty in every iteration"):
        aggregate(find_runs([tmp_path]))
    with pytest.raises(ValueError, match="no numeric column 'rho_0'"):
        aggregate(find_runs([tmp_path]), metric="rho_0")


def test_aggregate_rejects_non_overlapping_seeds_and_duplicate_seeds(tmp_path: Path) -> None:
    write_run(tmp_path / "a", seed=0, steps=(0, 10), returns=(1, 1))
    write_run(tmp_path / "a", seed=1, steps=(20, 30), returns=(1, 1))
    with pytest.raises(ValueError, match="do not overlap"):
        aggregate(find_runs([tmp_path / "a"]))
    write_run(tmp_path / "b", seed=0, name="copy")
    write_run(tmp_path / "b", seed=0, name="original")
    with pytest.raises(ValueError, match="seed 0 appears twice"):
        aggregate(find_runs([tmp_path / "b"]))


def test_smoothers() -> None:
    y = np.array([0.0, 3.0, 6.0, 9.0])
    np.testing.assert_allclose(MovingAverage(3).apply(y), [0.0, 1.5, 3.0, 6.0])
    np.testing.assert_allclose(MovingAverage(1).apply(y), y)
    # debiased EMA with w = 0.5 on (2, 4): 1 / 0.5 = 2, then (0.5 * 1 + 0.5 * 4) / 0.75
    np.testing.assert_allclose(Ema(0.5).apply(np.array([2.0, 4.0])), [2.0, 2.5 / 0.75])
    np.testing.assert_allclose(Ema(0.0).apply(y), y)
    with pytest.raises(ValueError):
        MovingAverage(0)
    with pytest.raises(ValueError):
        Ema(1.0)


def test_parse_smoothing() -> None:
    assert parse_smoothing("none") is None
    assert parse_smoothing("ma:10") == MovingAverage(10)
    assert parse_smoothing("EMA:0.9") == Ema(0.9)
    for bad in ("ma:x", "ma:0", "ema:1.5", "gauss:3"):
        with pytest.raises(ValueError, match="bad smoothing"):
            parse_smoothing(bad)


# --- plots --------------------------------------------------------------------------------------------------


def test_plot_curves_writes_a_png(tmp_path: Path) -> None:
    import matplotlib.image

    steps = list(range(0, 10_001, 1000))
    for env in ("pong", "checkers"):
        for algo in ("matrl", "il", "ppo"):
            for seed in (0, 1):
                returns = [(seed + 1) * x / 1000 if x % 3000 else "" for x in steps]
                write_run(tmp_path / "runs", env=env, algo=algo, seed=seed, steps=steps, returns=returns)
    runs = find_runs([tmp_path / "runs"])
    for band in ("std", "minmax"):
        out = plot_curves(
            runs, tmp_path / "plots" / f"{band}.png", band=band, smooth=Ema(0.6), title="Fig. 5"
        )
        assert out == tmp_path / "plots" / f"{band}.png"
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = matplotlib.image.imread(out)
        height, width = image.shape[:2]
        assert math.isclose(width, 2 * 4.8 * 120, rel_tol=0.05)  # two subplots side by side, 120 dpi
        assert math.isclose(height, (3.6 + 0.4) * 120, rel_tol=0.05)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "minmax.png",
        "std.png",
    ]  # no temp files
    with pytest.raises(ValueError, match="band must be one of"):
        plot_curves(runs, tmp_path / "x.png", band="iqr")


def test_algo_colours_fixed_for_known_algos() -> None:
    colours = algo_colours(["zeta", "il", "matrl", "alpha"])
    assert colours["matrl"] == "tab:red"
    assert colours["il"] == "tab:blue"
    assert colours == algo_colours(["alpha", "matrl", "il", "zeta"])  # independent of order
    assert len(set(colours.values())) == 4


# --- tables -------------------------------------------------------------------------------------------------


def test_summary_table_final_performance(tmp_path: Path) -> None:
    steps = [100 * (i + 1) for i in range(10)]
    write_run(tmp_path, seed=0, steps=steps, returns=[float(i) for i in range(10)])
    write_run(tmp_path, seed=1, steps=steps, returns=[*(float(i) for i in range(8)), "", 5.0])
    write_run(tmp_path, algo="il", seed=3, steps=steps, returns=[1.0] * 10)
    rows = summary_table(find_runs([tmp_path]), last_fraction=0.2)
    assert [(r["env"], r["algo"], r["n_seeds"]) for r in rows] == [("pong", "il", 1), ("pong", "matrl", 2)]
    matrl = rows[1]
    # last 20% = last 2 iterations: seed 0 -> mean(8, 9) = 8.5; seed 1 -> (nan, 5) -> 5
    assert matrl["seeds"] == [0, 1]
    assert matrl["per_seed"] == pytest.approx([8.5, 5.0])
    assert matrl["mean"] == pytest.approx(6.75)
    assert matrl["std"] == pytest.approx(1.75)
    assert rows[0]["std"] == 0.0
    table = format_markdown(rows)
    assert table.splitlines() == [
        "| env | algo | seeds | final return, mean ± std |",
        "| --- | --- | ---: | ---: |",
        "| pong | il | 1 | 1.00 ± 0.00 |",
        "| pong | matrl | 2 | 6.75 ± 1.75 |",
    ]


def test_summary_table_at_steps(tmp_path: Path) -> None:
    write_run(tmp_path, seed=0, steps=(100, 200, 300), returns=(1.0, "", 3.0))
    write_run(tmp_path, seed=1, steps=(100, 200, 300), returns=(3.0, 5.0, 7.0))
    runs = find_runs([tmp_path])
    (row,) = summary_table(runs, at_steps=250)
    assert row["per_seed"] == pytest.approx([2.5, 6.0])
    assert row["mean"] == pytest.approx(4.25)
    assert "return at 250 steps" in format_markdown([row])
    with pytest.raises(ValueError, match="not at 301"):
        summary_table(runs, at_steps=301)
    with pytest.raises(ValueError, match="last_fraction"):
        summary_table(runs, last_fraction=0.0)
    with pytest.raises(ValueError, match="no rows"):
        format_markdown([])


# --- run labels ---------------------------------------------------------------------------------------------


def write_setting(root: Path, name: str, seed: int, **changes: object) -> Path:
    """A Checkers MATRL run whose config.json is the preset with ``changes`` (dotted keys for sections)."""
    from matrl.config import preset

    config = preset("checkers_v0", "matrl").to_dict()
    config["seed"] = seed
    for key, value in changes.items():
        section, _, leaf = key.rpartition(".")
        (config[section] if section else config)[leaf] = value
    run = write_run(root, env="checkers_v0", seed=seed, name=name, returns=(seed, seed + 1.0, seed + 2.0))
    (run / "config.json").write_text(json.dumps(config))
    return run


def test_two_settings_with_one_env_algo_and_seed_are_two_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from matrl.cli import main
    from matrl.eval.curves import describe_labels, group_runs, label_runs, settings_hash

    for seed in (0, 1):
        write_setting(tmp_path / "runs", f"preset{seed}", seed, total_steps=800_000, threads=4)
        write_setting(tmp_path / "runs", f"lr{seed}", seed, **{"ppo.lr": 0.001})
    runs = find_runs([tmp_path / "runs"])
    by_name = {r.path.name: r for r in runs}
    assert settings_hash(by_name["preset0"]) == ""  # budget and threads are not settings of the line
    digest = settings_hash(by_name["lr0"])
    assert len(digest) == 6 and digest == settings_hash(by_name["lr1"])
    groups = group_runs(runs)
    assert sorted(groups) == [("checkers_v0", f"matrl [{digest}]"), ("checkers_v0", "matrl [preset]")]
    assert all([r.seed for r in members] == [0, 1] for members in groups.values())
    assert describe_labels(label_runs(runs)) == [f"matrl [{digest}]: ppo.lr=0.001"]
    # The same runs alone keep the plain algo label (a directory of seeds of one setting, as before).
    assert list(group_runs(find_runs([tmp_path / "runs" / "lr0", tmp_path / "runs" / "lr1"]))) == [
        ("checkers_v0", "matrl")
    ]
    main(["plot", str(tmp_path / "runs"), "--out", str(tmp_path / "c.png")])
    out = capsys.readouterr().out
    assert f"| checkers_v0 | matrl [{digest}] | 2 |" in out and "| checkers_v0 | matrl [preset] | 2 |" in out
    assert f"matrl [{digest}]: ppo.lr=0.001" in out
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_group_by_and_label(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from matrl.cli import main
    from matrl.eval.curves import group_runs, label_runs

    write_setting(tmp_path, "a", 0)
    write_setting(tmp_path, "b", 0, **{"ppo.lr": 0.001})
    runs = find_runs([tmp_path])
    with pytest.raises(ValueError, match=r"'matrl': seed 0 appears twice .*--group-by or --label"):
        group_runs(label_runs(runs, group_by="algo"))  # settings merged, as before labels: a clash
    by_lr = group_runs(label_runs(runs, group_by="algo,ppo.lr"))
    assert sorted(by_lr) == [("checkers_v0", "matrl ppo.lr=0.001"), ("checkers_v0", "matrl ppo.lr=0.002")]
    labelled = group_runs(label_runs(runs, label="{algo} lr={ppo.lr} hidden={hidden}"))
    assert sorted(labelled) == [
        ("checkers_v0", "matrl lr=0.001 hidden=[128, 128]"),
        ("checkers_v0", "matrl lr=0.002 hidden=[128, 128]"),
    ]
    for args, message in [
        (["--label", "{algo}"], "--label '{algo}' gives two groups of env 'checkers_v0' the same text"),
        (["--label", "{nope}"], "has no setting 'nope'; expected one of hash, action_bounds"),
        (["--group-by", "algo,,seed"], "--group-by 'algo,,seed' is not allowed; expected config, algo or"),
    ]:
        with pytest.raises(SystemExit):
            main(["plot", str(tmp_path), "--out", str(tmp_path / "x.png"), *args])
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
    assert not (tmp_path / "x.png").exists()
