"""One parser for training options (`matrl.train_args`): what `matrl train` and `matrl sweep` both read, and
the flags a resume or a replay cannot honour, refused in one line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from matrl.config import TrainConfig, preset
from matrl.sweep import apply_train_args
from matrl.train_args import apply_overrides, resolve


def saved_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    config = preset("switch2_v0", "il")
    path.write_text(json.dumps(config.to_dict()))
    return path


def test_train_and_sweep_parse_the_same_flags_the_same_way() -> None:
    flags = ["--batch-size", "200", "--ppo.lr", "0.001", "--env-kwargs", '{"max_steps": 30}']
    flags += ["--hidden", "8", "8"]
    request = resolve(["--env", "checkers_v0", "--algo", "il", *flags])
    base = preset("checkers_v0", "il")
    assert request.config == apply_overrides(base, flags, prog="test") == apply_train_args(base, flags)
    assert (request.config.batch_size, request.config.ppo.lr, request.config.hidden) == (200, 0.001, (8, 8))
    assert request.config.env_kwargs == {"max_steps": 30}


def test_from_config_replays_and_flags_override(tmp_path: Path) -> None:
    path = saved_config(tmp_path)
    request = resolve(["--from-config", str(path), "--seed", "4"])
    assert request.config == dataclasses.replace(TrainConfig.load(path), seed=4)
    assert request.config.env == "switch2_v0" and request.config.algo == "il"


def test_from_config_with_another_env_is_refused_not_swapped(tmp_path: Path) -> None:
    path = saved_config(tmp_path)
    with pytest.raises(ValueError, match=r"--env checkers_v0 is not allowed with --from-config .*switch2"):
        resolve(["--from-config", str(path), "--env", "checkers_v0"])
    assert resolve(["--from-config", str(path), "--env", "switch2_v0"]).config.env == "switch2_v0"


@pytest.mark.parametrize(
    "flags, bad",
    [
        (["--seed", "3"], "--seed"),
        (["--ppo.lr", "0.1"], "--ppo.lr"),
        (["--env", "checkers_v0"], "--env"),
    ],
)
def test_resume_refuses_settings_it_cannot_honour(flags: list[str], bad: str) -> None:
    with pytest.raises(ValueError, match=f"{bad} is not allowed with --resume"):
        resolve(["--resume", "--out", "runs/x", *flags])


def test_resume_takes_execution_settings_and_a_new_budget() -> None:
    request = resolve(["--resume", "--out", "runs/x", "--threads", "2", "--total-steps", "5000"])
    assert request.execution == {"threads": 2} and request.extend_to == 5000
    assert resolve(["--resume", "--out", "runs/x"]).extend_to is None


def test_resume_with_from_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"--from-config .* is not allowed with --resume"):
        resolve(["--resume", "--from-config", str(saved_config(tmp_path))])


def test_bad_env_kwargs_json_is_one_line() -> None:
    with pytest.raises(ValueError, match=r"--env-kwargs '\{bad' is not valid JSON"):
        resolve(["--env-kwargs", "{bad"])
    with pytest.raises(ValueError, match="expected a JSON object"):
        apply_overrides(preset("checkers_v0"), ["--env-kwargs=[1]"], prog="test")
