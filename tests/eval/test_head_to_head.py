"""Head-to-head of algorithms' final policies in a two-player game (`matrl.eval.head_to_head`) and its section
in a study report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from matrl.config import preset
from matrl.eval.head_to_head import RANDOM, HeadToHead, head_to_head
from matrl.study import StudySpec, head_to_head_scores, report
from matrl.training import train


def pennies_run(path: Path, algo: str, seed: int) -> Path:
    config = dataclasses.replace(
        preset("matrix_v0", algo),
        env_kwargs={"game": "matching_pennies"},
        seed=seed,
        total_steps=400,
        checkpoint_every=1,
    )
    train(config, path, progress=False, tensorboard=False)
    return path


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[StudySpec, Path]:
    out = tmp_path_factory.mktemp("study")
    spec = StudySpec.from_dict(
        {
            "seeds": [0, 1],
            "envs": {
                "pennies": {
                    "args": ["--env", "matrix_v0", "--env-kwargs", '{"game": "matching_pennies"}'],
                    "head_to_head": 20,
                }
            },
            "algos": {"il": ["--algo", "il"], "il-pp": ["--algo", "il-pp"]},
        }
    )
    for algo in spec.algos:
        for seed in spec.seeds:
            pennies_run(out / "pennies" / algo / f"seed_{seed}", algo, seed)
    return spec, out


def test_scores_are_antisymmetric_and_zero_against_oneself(study: tuple[StudySpec, Path]) -> None:
    _, out = study
    il = sorted((out / "pennies" / "il").glob("seed_*"))
    pp = sorted((out / "pennies" / "il-pp").glob("seed_*"))
    xy = head_to_head("il", il, "il-pp", pp, episodes=20)
    yx = head_to_head("il-pp", pp, "il", il, episodes=20)
    assert xy.scores.shape == (2, 2)
    np.testing.assert_allclose(xy.scores, -yx.scores.T, atol=1e-12)
    own = head_to_head("il", il, "il", il, episodes=20)
    np.testing.assert_allclose(np.diag(own.scores), 0.0, atol=1e-12)
    assert not np.allclose(xy.scores, 0.0)  # the policies differ, so the games do
    versus_random = head_to_head("il", il, RANDOM, [], episodes=20)
    assert versus_random.scores.shape == (2, 1)


def test_interval_and_win_share_summarise_the_seed_pairs() -> None:
    result = HeadToHead("x", "y", np.array([[1.0, -1.0], [2.0, 0.0]]))
    assert result.mean == 0.5 and result.win_share == pytest.approx(0.625)
    low, high = result.interval(reps=500)
    assert low <= result.mean <= high and low < high


def test_study_report_has_a_head_to_head_table_and_caches_it(study: tuple[StudySpec, Path]) -> None:
    spec, out = study
    scores = head_to_head_scores(spec, "pennies", out)
    assert set(scores) == {"il", "il-pp"} and set(scores["il"]) == {"il-pp", RANDOM}
    np.testing.assert_allclose(np.asarray(scores["il"]["il-pp"]), -np.asarray(scores["il-pp"]["il"]).T)
    cached = json.loads((out / "pennies" / "head_to_head.json").read_text())
    assert cached["episodes"] == 20 and set(cached["pairs"]) == {
        "il vs il-pp",
        "il vs random",
        "il-pp vs random",
    }
    text = report(spec, out, reps=200).read_text()
    assert "### Head-to-head (20 games per seat pairing" in text and "| il-pp |" in text


def test_bad_head_to_head_value_is_one_line() -> None:
    with pytest.raises(ValueError, match=r"envs.e.head_to_head=-1 must be an integer >= 0"):
        StudySpec.from_dict(
            {"seeds": [0], "envs": {"e": {"args": [], "head_to_head": -1}}, "algos": {"a": ["--algo", "il"]}}
        )
