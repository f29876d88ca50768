"""`matrl study`: a grid of real runs, resumable, a placebo matched to a realised rate, and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from matrl.cli import main
from matrl.config import TrainConfig
from matrl.matrixgames.games import NAMED_GAMES
from matrl.study import StudySpec, collect, normalised, report, run_study

TINY = ["--total-steps", "192", "--batch-size", "64", "--num-envs", "8", "--hidden", "8"]


def spec_dict() -> dict[str, object]:
    return {
        "seeds": [0],
        "reference": "il-pp",
        "envs": {
            "pennies": {
                "args": ["--env", "matrix_v0", "--env-kwargs", '{"game": "matching_pennies"}', *TINY],
                "metric": "stage_nash_conv",
                "higher_is_better": False,
                "last_fraction": 0.5,
            },
            "stag": {
                "args": ["--env", "matrix_v0", "--env-kwargs", '{"game": "stag_hunt"}', *TINY],
                "random_episodes": 400,
            },
        },
        "algos": {
            "il-pp": ["--algo", "il-pp"],
            "xfit": ["--algo", "matrl", "--meta.estimator", "crossfit"],
            "placebo": ["--algo", "placebo", "--meta.placebo-keep-rate", "from:xfit"],
        },
        "pairs": [["xfit", "placebo"]],
    }


@pytest.mark.xdist_group("study")
def test_a_study_trains_its_grid_resumes_and_reports(tmp_path: Path) -> None:
    spec = StudySpec.from_dict(spec_dict())
    out = tmp_path / "study"
    results = run_study(spec, out, jobs=2, log=lambda line: None)
    assert len(results) == 6 and all(code == 0 for _, code in results)
    assert run_study(spec, out, jobs=2, log=lambda line: None) == []  # everything finished: nothing to do
    # The placebo keeps at the rate the cross-fitted meta-game realised in the same env.
    for env in ("pennies", "stag"):
        shares = []
        for seed in (0,):
            with (out / env / "xfit" / f"seed_{seed}" / "metrics.csv").open() as f:
                header, *rows = [line.strip().split(",") for line in f]
            shares += [float(r[header.index("rho_keep_share")]) for r in rows]
        config = TrainConfig.load(out / env / "placebo" / "seed_0" / "config.json")
        assert config.meta.placebo_keep_rate == pytest.approx(np.mean(shares), abs=1e-4)
    path = report(spec, out, reps=200)
    text = path.read_text()
    assert "## pennies" in text and "## All environments" in text and "P(> ref)" in text
    assert text.count("| xfit | placebo |") == 3  # the spec's pair, in both envs and over all envs
    for figure in ("curves_pennies.png", "curves_stag.png", "aggregate.png", "profiles.png"):
        assert (out / figure).stat().st_size > 1000
    # Scores: the metric's mean over the last half of the iterations (3 iterations -> the last 2).
    scored = collect(spec, out)
    with (out / "pennies" / "il-pp" / "seed_0" / "metrics.csv").open() as f:
        header, *rows = [line.strip().split(",") for line in f]
    last = [float(r[header.index("stage_nash_conv")]) for r in rows[-2:]]
    assert scored.scores["pennies"]["il-pp"][0] == pytest.approx(np.mean(last))
    norm = normalised(scored)
    assert set(norm) == {"il-pp", "xfit", "placebo"}
    pooled = np.concatenate([v[:, 0] for v in norm.values()])
    assert pooled.min() == 0.0 and pooled.max() == 1.0
    # Each agent's own return per algo, and the random policy's as the yardstick (cached in random.json).
    agents = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    with (out / "stag" / "xfit" / "seed_0" / "metrics.csv").open() as f:
        header, *rows = [line.strip().split(",") for line in f]
    own = [np.mean([float(r[header.index(f"return_{i}")]) for r in rows[-1:]]) for i in (0, 1)]
    assert f"| xfit | {own[0]:.2f} | {own[1]:.2f} | {sum(own):.2f} |" in text
    cached = json.loads((out / "stag" / "random.json").read_text())
    assert cached["episodes"] == 400 and cached["env_kwargs"] == {"game": "stag_hunt"}
    uniform = NAMED_GAMES["stag_hunt"].reshape(2, -1).mean(1)  # each player's payoff, both playing uniformly
    np.testing.assert_allclose(cached["mean"], uniform, atol=0.25)
    assert agents["random policy"].startswith(f"| random policy | {cached['mean'][0]:.2f} |")
    assert "random policy" not in text.split("## stag")[0]  # pennies asked for no yardstick
    # marl-eval reads the JSON back; its absolute-metric matrix holds our scores (negated: lower is better).
    processing = pytest.importorskip("marl_eval.utils.data_processing_utils")
    raw = json.loads((out / "marl_eval.json").read_text())
    processed = processing.data_process_pipeline(raw_data=raw, metrics_to_normalize=[])
    matrices, _ = processing.create_matrices_for_rliable(
        data_dictionary=processed, environment_name="matrl", metrics_to_normalize=[]
    )
    back = np.sort(np.asarray(matrices["mean_score"]["il-pp"]).ravel())
    ours = np.sort(np.concatenate([-scored.scores["pennies"]["il-pp"], scored.scores["stag"]["il-pp"]]))
    np.testing.assert_allclose(back, ours)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seeds": []}, "seeds=[] must be a non-empty list"),
        ({"seeds": [0, "1"]}, "seeds="),
        ({"envs": {}}, "envs={} must be a non-empty object"),
        ({"algos": {"a": "--algo il"}}, "algos.a='--algo il' must be a list of strings"),
        ({"algos": {"a": ["--algo", "il", "--seed", "3"]}}, "sets ['--seed']"),
        ({"algos": {"a": ["--meta.placebo-keep-rate", "from:nobody"]}}, "allowed: from:<an algo label>"),
        ({"reference": "ppo"}, "reference='ppo' is not one of the algos"),
        ({"extra": 1}, "unknown keys ['extra']"),
        ({"pairs": [["xfit", "xfit"]]}, "pairs of two different algos"),
        ({"pairs": [["xfit", "nobody"]]}, "pairs of two different algos"),
        ({"envs": {"a/b": {"args": []}}}, "label 'a/b' must be a plain name"),
        ({"envs": {"e": {"args": [], "last_fraction": 0}}}, "last_fraction=0 must lie in (0, 1]"),
    ],
)
def test_bad_specs_are_one_line_errors(change: dict[str, object], message: str) -> None:
    data = {**spec_dict(), **change}
    with pytest.raises(ValueError) as err:
        StudySpec.from_dict(data)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_report_with_no_finished_run_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec_dict()))
    with pytest.raises(SystemExit) as exit_info:
        main(["study", "--spec", str(spec_file), "--out", str(tmp_path / "empty"), "--report-only"])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("matrl: error: study") and "no finished run yet" in err and "\n" not in err


def test_a_placebo_before_its_source_ran_is_refused(tmp_path: Path) -> None:
    from matrl.study import cells, train_command

    spec = StudySpec.from_dict(spec_dict())
    placebo = next(c for c in cells(spec, tmp_path) if c.algo == "placebo")
    with pytest.raises(ValueError, match="no finished run of xfit"):
        train_command(spec, placebo, tmp_path)
