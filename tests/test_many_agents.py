"""MATRL beyond 8 agents: the meta-game in sample form inside the training loop (``--meta.form``)."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from matrl.algorithm import MATRL
from matrl.cli import main
from matrl.config import MetaConfig, TrainConfig, preset
from matrl.gametheory.metagame import estimate_meta_game
from matrl.gametheory.sample_form import SampleMetaGame
from matrl.rollout import LocalCollector


def _learner(form: str, **changes: object) -> MATRL:
    base = preset("checkers_v0")
    meta = dataclasses.replace(base.meta, form=form, **changes)  # type: ignore[arg-type]
    config = dataclasses.replace(base, batch_size=64, num_envs=8, hidden=(16,), total_steps=128, meta=meta)
    return MATRL(config, LocalCollector(config.env, config.num_envs, **config.env_kwargs))


def test_the_sample_form_in_the_loop_is_the_tables_game() -> None:
    learner = _learner("samples")
    samples = learner.prepare(learner.collect())
    learner.predict(samples)
    logp_predicted = learner._log_prob(samples)
    game = learner.meta_game(samples, logp_predicted)
    assert isinstance(game, SampleMetaGame)
    log_ratios = (logp_predicted - samples.logp).double().numpy()
    table = estimate_meta_game(
        samples.advantages.double().numpy(), log_ratios, learner.config.meta.meta_ratio_clip
    )
    np.testing.assert_allclose(game.table(), table, rtol=0, atol=1e-12)


@pytest.mark.parametrize("estimator", ["in_sample", "crossfit", "fresh"])
def test_every_estimator_runs_in_the_sample_form(estimator: str) -> None:
    metrics = _learner("samples", estimator=estimator).iteration().metrics
    assert metrics["nash_fallback"] == 0.0 and "nash_conv" in metrics and "own_gain_1" in metrics
    assert not any(name.startswith("g0_") for name in metrics)  # no 2^n table, no table columns
    assert "dominant_all" not in metrics and "tsr_bound_1" in metrics
    if estimator != "in_sample":
        assert "own_gain_heldout_1" in metrics


def test_auto_is_the_table_up_to_8_agents() -> None:
    metrics = _learner("auto").iteration().metrics
    assert "g0_11" in metrics and "dominant_all" in metrics


def test_meta_form_setting() -> None:
    with pytest.raises(ValueError, match=r"meta\.form"):
        TrainConfig(meta=MetaConfig(form="tabel")).validate()  # type: ignore[arg-type]
    data = TrainConfig().to_dict()
    del data["meta"]["form"]  # a config.json written before the option
    assert TrainConfig.from_dict(data).meta.form == "auto"


# The many-agent env: skipped without mpe2 (``pip install "matrl[mpe]"``), as tests/envs/test_mpe2.py is.
needs_mpe2 = pytest.mark.skipif(importlib.util.find_spec("mpe2") is None, reason="mpe2 is not installed")

SPREAD = ["--env", "pettingzoo:mpe2.simple_spread_v3", "--env-kwargs", '{"N": 10, "max_cycles": 25}']
SIZES = ["--batch-size", "500", "--num-envs", "4", "--hidden", "16", "--no-progress"]


@needs_mpe2
def test_matrl_trains_10_agents_with_the_sample_form(tmp_path: Path) -> None:
    run = tmp_path / "run"
    main(["train", *SPREAD, *SIZES, "--total-steps", "1000", "--out", str(run)])
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert len(rows) == 2
    columns = set(rows[0])
    assert {f"rho_{i}" for i in range(10)} <= columns and {f"own_gain_{i}" for i in range(10)} <= columns
    assert not any(name.startswith("g0_") for name in columns)
    assert all(float(row["nash_fallback"]) == 0.0 for row in rows)
    assert all(np.isfinite(float(row["nash_conv"])) for row in rows)
    assert TrainConfig.load(run / "config.json").meta.form == "auto"


@needs_mpe2
def test_a_table_for_10_agents_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*SPREAD, *SIZES, "--total-steps", "500", "--meta.form", "table", "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *args])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "at most 8 agents" in error and "--meta.form samples" in error
