"""``--device``: resolution, one-line errors, and that the CPU default is the only thing that runs here."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from matrl.algorithm import MATRL
from matrl.algos import make_learner
from matrl.config import TrainConfig, preset
from matrl.learners.device import resolve_device
from matrl.rollout import LocalCollector


def _small(algo: str = "matrl", **changes: object) -> TrainConfig:
    base = preset("checkers_v0")
    return dataclasses.replace(
        base, algo=algo, batch_size=64, num_envs=8, hidden=(16,), total_steps=128, **changes
    )  # type: ignore[arg-type]


def test_auto_picks_cuda_only_when_torch_sees_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")


def test_cuda_without_a_gpu_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"device='cuda' is not available.*--device cpu") as err:
        resolve_device("cuda")
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"device='cuda' is not available"):
        MATRL(_small(device="cuda"), LocalCollector("checkers_v0", 8))


def test_unknown_device_names_the_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"device='tpu' is not allowed; expected one of auto, cpu, cuda"):
        _small(device="tpu").validate()
    with pytest.raises(ValueError, match=r"device='gpu' is not allowed"):
        resolve_device("gpu")


def test_baselines_refuse_a_gpu_learner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    config = dataclasses.replace(_small("vdn"), device="cuda")
    with pytest.raises(ValueError, match=r"not supported by the vdn baseline.*--device cpu"):
        make_learner(config, LocalCollector("checkers_v0", 8))


def test_auto_on_a_cpu_machine_trains_exactly_like_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def run(device: str) -> tuple[list[float], dict[str, torch.Tensor]]:
        learner = MATRL(_small(device=device), LocalCollector("checkers_v0", 8))
        metrics = [learner.iteration().metrics["predict_policy_loss"] for _ in range(2)]
        assert all(p.device.type == "cpu" for p in learner.net.parameters())
        return metrics, learner.net.state_dict()

    cpu_metrics, cpu_weights = run("cpu")
    auto_metrics, auto_weights = run("auto")
    assert cpu_metrics == auto_metrics
    assert all(torch.equal(cpu_weights[k], auto_weights[k]) for k in cpu_weights)
