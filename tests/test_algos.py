"""The algorithm registry: every registered algorithm trains, resumes bit-identically and evaluates through
the same harness (a BenchMARL-style contract test), and a run's config.json holds only its own sections."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from matrl.algos import ALGOS, algo_names, algo_spec, load_attribute
from matrl.checkpoint import list_models
from matrl.cli import main
from matrl.config import SECTIONS, TrainConfig, preset
from matrl.eval.evaluate import evaluate
from matrl.training import train
from test_training import read_metrics

FIXTURES = Path(__file__).parent / "fixtures"


def contract_config(algo: str) -> TrainConfig:
    """A few-iteration run of ``algo`` on a small env of an action kind it supports."""
    spec = algo_spec(algo)
    env = "checkers_v0" if "discrete" in spec.action_kinds else "hopper_3x1"
    base = preset(env, algo)
    config = dataclasses.replace(
        base, batch_size=64, num_envs=4, hidden=(16,), total_steps=64 * 4, checkpoint_every=2, env_workers=1
    )
    if spec.policy == "greedy_q":
        value = dataclasses.replace(config.value, warmup_steps=32, batch_size=8, buffer_size=256)
        config = dataclasses.replace(config, value=value)
    if algo == "maddpg":
        maddpg = dataclasses.replace(
            config.maddpg, warmup_steps=32, batch_size=8, buffer_size=512, hidden=(16,), update_every=16
        )
        config = dataclasses.replace(config, maddpg=maddpg, batch_size=64, total_steps=64 * 4)
    return config.validate()


@pytest.mark.parametrize("algo", list(ALGOS))
def test_every_registered_algorithm_trains_resumes_and_evaluates(algo: str, tmp_path: Path) -> None:
    config = contract_config(algo)
    train(config, tmp_path / "full", progress=False, tensorboard=False)
    train(config, tmp_path / "cut", progress=False, stop_after=2, tensorboard=False)
    train(None, tmp_path / "cut", resume=True, progress=False, tensorboard=False)
    full = read_metrics(tmp_path / "full")
    assert len(full) == config.iterations
    assert read_metrics(tmp_path / "cut") == full
    _, last = list_models(tmp_path / "full")[-1]
    returns = evaluate(last, episodes=2).returns
    assert returns.shape[0] == 2 and all(math.isfinite(x) for x in returns.ravel())


@pytest.mark.parametrize("algo", list(ALGOS))
def test_config_json_holds_only_the_sections_the_algorithm_reads(algo: str) -> None:
    config = preset("checkers_v0", algo)
    data = config.to_dict()
    used = set(algo_spec(algo).sections)
    assert {s for s in SECTIONS if s in data} == used
    assert TrainConfig.from_dict(json.loads(json.dumps(data))) == config


def test_registry_entries_name_importable_learners() -> None:
    for name, spec in ALGOS.items():
        learner = load_attribute(spec.learner)
        assert callable(learner), name
        assert spec.action_kinds <= {"discrete", "continuous"} and spec.action_kinds, name
    assert set(algo_names(meta_game=True)) <= set(algo_names(on_policy=True))


def test_a_config_json_written_before_sections_were_dropped_still_loads() -> None:
    path = FIXTURES / "config_before_sections.json"
    old = json.loads(path.read_text())
    assert {"value", "maddpg"} <= set(old)  # the old format carried every section
    config = TrainConfig.load(path)
    assert (config.env, config.algo, config.total_steps) == ("checkers_v0", "il-pp", 200_000)
    assert "maddpg" not in config.to_dict()


def test_unknown_algorithm_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--algo", "ppo2", "--out", "/nonexistent/never"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ppo2" in err[0] and "matrl" in err[0] and "maddpg" in err[0]
    with pytest.raises(ValueError, match="algo='ppo2' is not allowed"):
        algo_spec("ppo2")
