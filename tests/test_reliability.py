"""Faults and bad input on the training path (issue 20; docs/reliability.md counts them): no dead end
before the first checkpoint, Ctrl-C, kills during a write, a full or read-only disk, corrupt checkpoints,
cut-off metrics, wrong types in config.json, flags --resume cannot honour. Each ends in a resumable run or
one line."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import pickle
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch

from matrl import checkpoint
from matrl.cli import main
from matrl.config import TrainConfig, preset
from matrl.fileio import write_atomically
from matrl.logging.metrics import MetricsLog
from matrl.training import TrainingInterrupted, train

EXE = [sys.executable, "-m", "matrl.cli", "train"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
SMALL = ["--env", "checkers_v0", "--batch-size", "64", "--num-envs", "8", "--hidden", "16", "--no-progress"]


def tiny(algo: str = "matrl", **changes: Any) -> TrainConfig:
    fields: dict[str, Any] = {"batch_size": 64, "num_envs": 8, "hidden": (16,), "total_steps": 64 * 6}
    fields["checkpoint_every"] = 2
    fields.update(changes)
    return dataclasses.replace(preset("checkers_v0"), algo=algo, **fields)


def metrics(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in row.items() if not k.startswith(("time_", "steps_per_second"))} for row in rows]


def same_result(a: Path, b: Path) -> bool:
    """Same metrics (timings aside) and bit-identical final networks."""
    wa = checkpoint.load_model(checkpoint.list_models(a)[-1][1])[0]
    wb = checkpoint.load_model(checkpoint.list_models(b)[-1][1])[0]
    return metrics(a) == metrics(b) and wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def cli_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one line `matrl` prints for ``args``, which must exit with status 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("matrl: error: ") and err.count("\n") == 0, err
    return err


def tmp_leftovers(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.rglob("*.tmp"))


def wait_for(predicate: Any, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert predicate(), f"timed out (exit status {proc.poll()})"


def metric_rows(run_dir: Path) -> int:
    path = run_dir / "metrics.csv"
    return path.read_text().count("\n") - 1 if path.is_file() else 0


# ------------------------------------------------------------------------------------------------------------
# No dead end before the first checkpoint


UNCHECKPOINTED = [*SMALL, "--total-steps", str(64 * 5), "--checkpoint-every", "1000"]


@pytest.fixture(scope="module")
def uncheckpointed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run with no checkpoint before its last iteration."""
    out = tmp_path_factory.mktemp("reference") / "full"
    return train(tiny(total_steps=64 * 5, checkpoint_every=1000), out, progress=False)  # = UNCHECKPOINTED


@pytest.mark.fault
@pytest.mark.parametrize("kill", [signal.SIGKILL, signal.SIGTERM])
def test_a_kill_before_the_first_checkpoint_resumes_bit_identically(
    tmp_path: Path, kill: int, uncheckpointed_run: Path
) -> None:
    """SIGKILL or SIGTERM after 2 iterations of a run that checkpoints every 1000: it used to leave a
    directory that --resume ("no training state") and a fresh start ("already holds a run") both refused."""
    args = UNCHECKPOINTED
    cut = tmp_path / "cut"
    proc = subprocess.Popen([*EXE, *args, "--out", str(cut)], env=ENV, stderr=subprocess.DEVNULL)
    wait_for(lambda: metric_rows(cut) >= 2, proc)
    proc.send_signal(kill)
    assert proc.wait() == -kill
    assert checkpoint.list_models(cut) == [] and checkpoint.state_iteration(cut) == 0
    subprocess.run(
        [*EXE, "--out", str(cut), "--resume", "--no-progress"], env=ENV, capture_output=True, check=True
    )
    assert same_result(cut, uncheckpointed_run)


@pytest.mark.parametrize("algo", ["il", "vdn"])
def test_resume_from_the_initial_state_equals_an_uninterrupted_run(tmp_path: Path, algo: str) -> None:
    config = tiny(algo, checkpoint_every=100, checkpoint_every_seconds=None, total_steps=64 * 3)
    train(config, tmp_path / "full", progress=False, tensorboard=False)
    train(config, tmp_path / "cut", progress=False, tensorboard=False, stop_after=2)
    assert checkpoint.state_iteration(tmp_path / "cut") == 0 and len(metrics(tmp_path / "cut")) == 2
    train(None, tmp_path / "cut", resume=True, progress=False, tensorboard=False)
    assert same_result(tmp_path / "cut", tmp_path / "full")


def test_a_fresh_start_replaces_a_run_without_a_trained_iteration(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(tiny(checkpoint_every=100, seed=7), out, progress=False, stop_after=2)
    assert checkpoint.state_iteration(out) == 0
    train(
        tiny(seed=8), out, progress=False, tensorboard=False
    )  # replaces it instead of "already holds a run"
    assert TrainConfig.load(out / "config.json").seed == 8
    assert same_result(out, train(tiny(seed=8), tmp_path / "reference", progress=False, tensorboard=False))
    with pytest.raises(ValueError, match=r"already holds a run \(checkpointed at iteration 6\)"):
        train(tiny(seed=9), out, progress=False)


def test_checkpoint_every_seconds_saves_the_state_between_checkpoints(tmp_path: Path) -> None:
    """A slow env with a long checkpoint interval loses at most checkpoint_every_seconds of work: the state
    (not a model file) is saved once that much time has passed, and resumes bit-identically."""
    config = tiny(checkpoint_every=100, checkpoint_every_seconds=1e-9)
    train(config, tmp_path / "full", progress=False, tensorboard=False)
    train(config, tmp_path / "cut", progress=False, tensorboard=False, stop_after=4)
    assert checkpoint.state_iteration(tmp_path / "cut") == 4
    assert checkpoint.list_models(tmp_path / "cut") == []  # model files stay on the iteration grid
    train(None, tmp_path / "cut", resume=True, progress=False, tensorboard=False)
    assert same_result(tmp_path / "cut", tmp_path / "full")
    assert [i for i, _ in checkpoint.list_models(tmp_path / "cut")] == [6]
    never = tiny(checkpoint_every=100, checkpoint_every_seconds=None)
    train(never, tmp_path / "never", progress=False, tensorboard=False, stop_after=4)
    assert checkpoint.state_iteration(tmp_path / "never") == 0
    assert TrainConfig().checkpoint_every_seconds == 300.0


# ------------------------------------------------------------------------------------------------------------
# Ctrl-C, kills during a write, leftovers


@pytest.mark.fault
def test_ctrl_c_prints_where_to_resume_and_exits_130(tmp_path: Path) -> None:
    args = [*SMALL, "--total-steps", str(64 * 400), "--checkpoint-every", "3"]
    out = tmp_path / "run"
    proc = subprocess.Popen([*EXE, *args, "--out", str(out)], env=ENV, stderr=subprocess.PIPE)
    wait_for(lambda: metric_rows(out) >= 4, proc)
    proc.send_signal(signal.SIGINT)
    _, err_bytes = proc.communicate(timeout=60)
    err = err_bytes.decode().strip()
    assert proc.returncode == 130
    assert err.count("\n") == 0, err  # it was a 54-line KeyboardInterrupt traceback
    assert err.startswith("matrl: interrupted at iteration ")
    assert err.endswith(f"; resume with matrl train --out {out} --resume")
    assert tmp_leftovers(out) == []
    saved = checkpoint.state_iteration(out)
    assert saved is not None and saved >= 3 and f"(last checkpoint: iteration {saved})" in err


def test_ctrl_c_in_process_raises_training_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matrl.algorithm import MATRL

    calls = {"n": 0}
    iteration = MATRL.iteration

    def interrupted_third(self: MATRL) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return iteration(self)

    monkeypatch.setattr(MATRL, "iteration", interrupted_third)
    with pytest.raises(TrainingInterrupted) as info:
        train(tiny(), tmp_path / "run", progress=False, tensorboard=False)
    assert (info.value.iteration, info.value.checkpoint_iteration) == (2, 2)
    assert isinstance(info.value, KeyboardInterrupt)


def test_leftovers_of_a_write_killed_midway_are_removed_on_the_next_start(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(tiny(total_steps=64 * 2), out, progress=False, tensorboard=False)
    target = out / "checkpoints" / "state.pt"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from matrl.fileio import write_atomically\n"
            "write_atomically(Path(sys.argv[1]), lambda tmp: (tmp.write_bytes(b'half'), time.sleep(600)))",
            str(target),
        ],
        env=ENV,
    )
    wait_for(lambda: bool(tmp_leftovers(out)), writer)  # type: ignore[arg-type]
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert len(tmp_leftovers(out)) == 1
    checkpoint.load_state(out)  # the old state is intact
    train(None, out, resume=True, progress=False, extend_to=64 * 3, tensorboard=False)
    assert tmp_leftovers(out) == []


def test_writes_are_fsynced_before_the_rename_and_the_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(fd: int) -> None:
        events.append(f"fsync {Path(os.readlink(f'/proc/self/fd/{fd}')).name}")
        fsync(fd)

    def recording_replace(src: Any, dst: Any) -> None:
        events.append("replace")
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    write_atomically(tmp_path / "dir" / "file.txt", lambda tmp: tmp.write_text("x"))
    assert len(events) == 3 and events[0].startswith("fsync .file.txt.") and events[0].endswith(".tmp")
    assert events[1:] == ["replace", "fsync dir"]


def test_model_checkpoints_get_the_permissions_of_the_other_files(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(tiny(total_steps=64 * 2), out, progress=False, tensorboard=False)
    umask = os.umask(0o022)
    os.umask(umask)
    modes = {
        p.name: p.stat().st_mode & 0o777 for p in [out / "config.json", *(out / "checkpoints").iterdir()]
    }
    assert set(modes.values()) == {0o666 & ~umask}, modes  # safetensors wrote 0600


# ------------------------------------------------------------------------------------------------------------
# Corrupt checkpoints and metrics


def _flip_in_zip_entry(path: Path) -> None:
    """Flip one bit in the middle of the largest tensor record of a torch zip checkpoint."""
    with zipfile.ZipFile(path) as archive:
        info = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    raw = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    raw[info.header_offset + 30 + name_len + extra_len + info.file_size // 2] ^= 0x10
    path.write_bytes(bytes(raw))


def test_bit_flips_in_checkpoints_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    train(tiny(total_steps=64 * 2), out, progress=False, tensorboard=False)
    model = checkpoint.list_models(out)[-1][1]
    raw = bytearray(model.read_bytes())
    raw[8 + struct.unpack("<Q", raw[:8])[0] + 100] ^= 0x01  # a bit of a weight (after the JSON header)
    model.write_bytes(bytes(raw))
    assert "fails its SHA-256 check" in cli_error(["evaluate", str(model)], capsys)
    _flip_in_zip_entry(out / "checkpoints" / "state.pt")
    err = cli_error(["train", "--out", str(out), "--resume", "--total-steps", "256", "--no-progress"], capsys)
    assert "state.pt fails its SHA-256 check" in err


class _RunsCode:
    """Unpickling this calls ``os.system(command)``: what a hostile state.pt would do."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (self.command,)


@pytest.mark.parametrize("layout", ["pickle", "torch zip"])
def test_a_malicious_pickle_state_is_refused_in_one_line_and_never_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], layout: str
) -> None:
    """A state.pt whose unpickling would run a command (plain pickle, and torch.save's zip layout with the
    same pickle inside) is refused on --resume, and the command does not run."""
    out = tmp_path / "run"
    train(tiny(total_steps=64 * 2), out, progress=False, tensorboard=False)
    marker = tmp_path / "code-ran"
    payload = {"algorithm": _RunsCode(f"touch {marker}")}
    path = out / "checkpoints" / "state.pt"
    if layout == "pickle":
        path.write_bytes(pickle.dumps(payload, protocol=2))  # torch.save's protocol
    else:
        torch.save(payload, path)
        assert zipfile.is_zipfile(path)
    err = cli_error(["train", "--out", str(out), "--resume", "--total-steps", "256", "--no-progress"], capsys)
    assert f"checkpoint {path} is corrupt or not a matrl training state" in err
    assert not marker.exists()
    pickle.loads(path.read_bytes()) if layout == "pickle" else torch.load(path, weights_only=False)
    assert marker.exists()  # the payload is live: loading it the unsafe way runs it


def _tamper_header(path: Path, change: str) -> None:
    """Rewrite a safetensors file's JSON header in place (same length, so the tensor bytes stay put)."""
    raw = bytearray(path.read_bytes())
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + size])
    if change == "length":
        raw[:8] = struct.pack("<Q", len(raw) * 2)
    else:
        name = next(k for k, v in header.items() if k != "__metadata__" and len(set(v["shape"])) == 2)
        if change == "shape":
            header[name]["shape"] = header[name]["shape"][::-1]  # as many bytes, another layout
        else:
            header[name]["dtype"] = "F16"  # half as many bytes as its offsets span
        text = json.dumps(header, separators=(",", ":")).encode().ljust(size)
        assert len(text) == size
        raw[8 : 8 + size] = text
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("shape", "fails its SHA-256 check"),
        ("dtype", "is corrupt or not a matrl model checkpoint"),
        ("length", "is corrupt or not a matrl model checkpoint"),
    ],
)
def test_a_model_file_with_a_tampered_header_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, message: str
) -> None:
    """A header edited to another shape still loads in safetensors; the checksum refuses it. A header that
    disagrees with the data or with the file's length is refused by safetensors, and both are one line."""
    out = tmp_path / "run"
    train(tiny(total_steps=64 * 2), out, progress=False, tensorboard=False)
    model = checkpoint.list_models(out)[-1][1]
    _tamper_header(model, change)
    err = cli_error(["evaluate", str(model), "--episodes", "2"], capsys)
    assert f"checkpoint {model}" in err and message in err


@pytest.mark.parametrize("damage", ["truncated", "empty", "not safetensors"])
def test_evaluate_on_a_corrupt_checkpoint_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    out = tmp_path / "run"
    train(tiny(total_steps=64 * 2), out, progress=False, tensorboard=False)
    model = checkpoint.list_models(out)[-1][1]
    raw = model.read_bytes()
    model.write_bytes(
        {"truncated": raw[: len(raw) // 2], "empty": b"", "not safetensors": b"PK\x03\x04" * 64}[damage]
    )
    err = cli_error(["evaluate", str(model), "--episodes", "2"], capsys)
    assert f"checkpoint {model} is corrupt or not a matrl model checkpoint" in err


def test_checkpoints_written_before_the_checksums_still_load(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(tiny(total_steps=64 * 2), out, progress=False, tensorboard=False)
    state = checkpoint.load_state(out)
    torch.save(checkpoint._to_torch(state), out / "checkpoints" / "state.pt")  # the old layout, no digest
    assert checkpoint.load_state(out)["algorithm"]["iteration"] == 2
    train(None, out, resume=True, progress=False, extend_to=64 * 3, tensorboard=False)


def test_a_state_from_another_network_size_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train(tiny(total_steps=128), tmp_path / "a", progress=False, tensorboard=False)
    train(tiny(total_steps=128, hidden=(8,)), tmp_path / "b", progress=False, tensorboard=False)
    shutil.copy(tmp_path / "b" / "checkpoints" / "state.pt", tmp_path / "a" / "checkpoints" / "state.pt")
    err = cli_error(["train", "--out", str(tmp_path / "a"), "--resume", "--total-steps", "256"], capsys)
    assert "does not fit" in err and "config.json" in err


def test_a_cut_off_last_value_in_metrics_is_a_cut_off_row(tmp_path: Path) -> None:
    """A row whose last value lost its tail still has every field; without its newline it is not complete
    (before: kept with the wrong value)."""
    path = tmp_path / "metrics.csv"
    path.write_text("iteration,env_steps,total_return\n1,64,0.5\n2,128,0.25\n3,192,0.125")
    path.write_text(path.read_text()[:-2])  # "3,192,0.1": cut inside its last value
    with pytest.raises(ValueError, match="holds 2 complete rows up to iteration 3, expected 3"):
        MetricsLog(tmp_path, resume_iteration=3, tensorboard=False)
    MetricsLog(tmp_path, resume_iteration=2, tensorboard=False).close()
    assert path.read_text() == "iteration,env_steps,total_return\n1,64,0.5\n2,128,0.25\n"


# ------------------------------------------------------------------------------------------------------------
# Bad input: one line, status 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seed": "abc"}, "seed='abc' is not allowed; expected an integer"),
        ({"hidden": 5}, "hidden=5 is not allowed; expected a list of integers"),
        ({"total_steps": "100000"}, "total_steps='100000' is not allowed; expected an integer"),
        ({"total_steps": 100000.0}, "total_steps=100000.0 is not allowed; expected an integer"),
        ({"num_envs": True}, "num_envs=True is not allowed; expected an integer"),
        ({"obs_norm": 1}, "obs_norm=1 is not allowed; expected true or false"),
        ({"ppo": {"lr": "0.1"}}, "ppo.lr='0.1' is not allowed; expected a number"),
        ({"ppo": {"target_kl": []}}, "ppo.target_kl=[] is not allowed; expected a number or null"),
        ({"cnn": {"strides": [4, "2"]}}, "cnn.strides=[4, '2'] is not allowed; expected a list of integers"),
        ({"meta": 3}, "meta=3 is not allowed; expected a JSON object"),
        ({"algo": "ppo"}, "algo='ppo' is not allowed; expected one of 'matrl', "),
        ({"env_kwargs": [1]}, "env_kwargs=[1] is not allowed; expected a JSON object"),
    ],
)
def test_wrong_types_in_config_json_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any], message: str
) -> None:
    data = tiny().to_dict()
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(data[key], dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError) as info:
        TrainConfig.load(path)
    assert str(info.value) == f"config file {path}: {message}" or message in str(info.value)
    err = cli_error(["train", "--from-config", str(path), "--out", str(tmp_path / "x")], capsys)
    assert message in err
    assert not (tmp_path / "x").exists()


def test_a_float_setting_given_for_an_integer_and_ints_for_floats(tmp_path: Path) -> None:
    data = tiny().to_dict() | {"reward_scale": 2}
    assert TrainConfig.from_dict(data).reward_scale == 2.0
    assert isinstance(TrainConfig.from_dict(data).reward_scale, float)


@pytest.mark.parametrize(
    ("flag", "value", "name"),
    [
        ("--ppo.lr", "inf", "ppo.lr"),
        ("--meta.br-lr", "-inf", "meta.br_lr"),
        ("--ppo.gamma", "nan", "ppo.gamma"),
    ],
)
def test_infinite_settings_are_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, name: str
) -> None:
    """``--ppo.lr inf`` used to pass validation and fail only at the first NaN loss."""
    err = cli_error(["train", *SMALL, flag, value, "--out", str(tmp_path / "x")], capsys)
    assert f"{name}=" in err and "is not allowed" in err
    assert not (tmp_path / "x").exists()


def test_checkpoint_every_seconds_must_be_positive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = cli_error(
        ["train", *SMALL, "--checkpoint-every-seconds", "0", "--out", str(tmp_path / "x")], capsys
    )
    assert "checkpoint_every_seconds=0.0 is not allowed; expected > 0 or None" in err


def test_out_naming_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("not a directory")
    err = cli_error(["train", *SMALL, "--total-steps", "64", "--out", str(tmp_path / "file")], capsys)
    assert f"--out {tmp_path / 'file'} is not allowed: it is a file" in err
    err = cli_error(["train", *SMALL, "--total-steps", "64", "--out", str(tmp_path / "file" / "run")], capsys)
    assert "Not a directory" in err
    assert (tmp_path / "file").read_text() == "not a directory"


def test_out_of_memory_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "--env", "checkers_v0", "--batch-size", str(16 * 10**9), "--num-envs", "16"]
    err = cli_error([*args, "--hidden", "8", "--no-progress", "--out", str(tmp_path / "x")], capsys)
    assert "out of memory" in err and "--batch-size" in err


def test_resume_refuses_flags_it_cannot_honour(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--resume used to drop --seed, --env, --ppo.lr silently and train with config.json's settings."""
    out = tmp_path / "run"
    train(tiny(total_steps=128), out, progress=False, tensorboard=False)
    before = (out / "config.json").read_text()
    for flags in (["--seed", "3"], ["--env", "switch4_v0"], ["--ppo.lr", "0.1"], ["--env-kwargs", "{}"]):
        err = cli_error(["train", "--out", str(out), "--resume", *flags], capsys)
        assert f"{flags[0]} is not allowed with --resume" in err and "--threads" in err
    assert "--batch-size is not allowed" in cli_error(
        ["train", "--out", str(out), "--resume", "--batch_size=32"], capsys
    )
    assert (out / "config.json").read_text() == before
    main(["train", "--out", str(out), "--resume", "--threads", "1", "--device", "cpu", "--no-progress"])
    main(["train", "--out", str(out), "--resume", "--total-steps", "192", "--threads", "2", "--no-progress"])
    assert TrainConfig.load(out / "config.json") == tiny(total_steps=192)  # threads is not written


def test_debug_shows_the_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["train", *SMALL, "--ppo.lr", "inf", "--out", str(tmp_path / "x")]
    with pytest.raises(ValueError, match=r"ppo\.lr=inf"):
        main(["--debug", *args])
    monkeypatch.setenv("MATRL_DEBUG", "1")
    with pytest.raises(ValueError, match=r"ppo\.lr=inf"):
        main(args)


# ------------------------------------------------------------------------------------------------------------
# Full and read-only disks (real ones: a tmpfs in a private mount namespace)


def _in_namespace(script: str) -> subprocess.CompletedProcess[str]:
    """Run a shell script as root of a new user and mount namespace (its mounts vanish with it)."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux)")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("user namespaces are not available here")
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=ENV)


@pytest.mark.fault
def test_a_full_disk_is_one_line_and_leaves_no_partial_files(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    train_cmd = " ".join([*EXE, *SMALL, "--total-steps", str(64 * 4), "--checkpoint-every", "1"])
    result = _in_namespace(
        f"mount -t tmpfs -o size=96k tmpfs {disk} && {train_cmd} --out {disk}/run; echo rc=$?; "
        f"ls -a {disk}/run {disk}/run/checkpoints"
    )
    err = result.stderr.strip()
    assert "rc=2" in result.stdout, (result.stdout, err)
    assert err.count("\n") == 0, err
    assert err.startswith(f"matrl: error: No space left on device: {disk}/run/"), err
    assert err.endswith("(free some space, then continue with --resume)"), err
    assert ".tmp" not in result.stdout, result.stdout


@pytest.mark.fault
def test_a_read_only_directory_is_one_line(tmp_path: Path) -> None:
    disk = tmp_path / "ro"
    disk.mkdir()
    train_cmd = " ".join([*EXE, *SMALL, "--total-steps", "64"])
    result = _in_namespace(f"mount -t tmpfs -o ro tmpfs {disk} && {train_cmd} --out {disk}/run; echo rc=$?")
    err = result.stderr.strip()
    assert "rc=2" in result.stdout, (result.stdout, err)
    assert err == f"matrl: error: Read-only file system: {disk}/run (choose a writable --out)"


# ------------------------------------------------------------------------------------------------------------
# The env id and its settings agree


@pytest.mark.parametrize(
    ("env", "kwargs", "message"),
    [
        ("switch2_v0", {"n_agents": 4}, "['n_agents'] are not allowed with switch2_v0: the id fixes"),
        ("hopper_3x1", {"scenario": "Ant"}, "['scenario'] are not allowed with hopper_3x1: the id fixes"),
        ("ant_4x2", {"agent_conf": "2x4"}, "['agent_conf'] are not allowed with ant_4x2: the id fixes"),
    ],
)
def test_env_kwargs_that_change_the_ids_game_are_refused_before_anything_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], env: str, kwargs: dict[str, Any], message: str
) -> None:
    """``--env switch2_v0 --env-kwargs '{"n_agents": 4}'`` used to train a 4-agent game recorded as
    switch2_v0; the kwargs an id binds are refused (as the MuJoCo ids already were, but only once the env
    was built)."""
    out = tmp_path / "x"
    err = cli_error(_train_with_env_kwargs(env, json.dumps(kwargs), out), capsys)
    assert message in err and "drop them or use " in err, err
    assert not out.exists()


def _train_with_env_kwargs(env: str, env_kwargs: str, out: Path) -> list[str]:
    """A short `matrl train` command line for ``env`` with these ``--env-kwargs``."""
    return ["train", "--env", env, "--env-kwargs", env_kwargs, "--total-steps", "64", "--out", str(out)]


@pytest.mark.parametrize(
    ("env", "accepted"),
    [
        ("checkers_v0", "step_cost, max_steps, full_observable, autoreset, reward_dtype"),
        ("switch4_v0", "step_cost, max_steps, full_observable, phantom_blockers, arrival_reward, autoreset"),
        ("matrix_v0", "game, payoffs, episode_length, terminate_at_end, autoreset, reward_dtype"),
        ("pong_v3", "preprocessing, full_action_space, mirror, max_steps, frame_skip, frame_stack, noop_max"),
    ],
)
def test_unknown_env_kwargs_are_refused_in_one_line_listing_the_accepted_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], env: str, accepted: str
) -> None:
    """A misspelt env kwarg used to end in the constructor's TypeError traceback, after the run directory
    was created."""
    out = tmp_path / "x"
    args = _train_with_env_kwargs(env, '{"max_step": 5}', out)
    err = cli_error(args, capsys)
    assert f"env_kwargs ['max_step'] are not accepted by {env}; it accepts {accepted}" in err, err
    assert "n_agents" not in err and "num_envs" not in err
    assert not out.exists()


def test_env_kwargs_checks_leave_what_the_id_does_not_fix_to_the_env() -> None:
    """Accepted kwargs pass; the MuJoCo core forwards extra kwargs to gymnasium-robotics, and third-party
    ids are checked by their own factory, so neither is refused here."""
    from matrl.envs.registry import check_env_kwargs

    check_env_kwargs("switch2_v0", {"step_cost": -0.2, "max_steps": 10})
    check_env_kwargs("mamujoco", {"scenario": "HalfCheetah", "agent_conf": "2x3", "ctrl_cost_weight": 0.1})
    check_env_kwargs("hopper_3x1", {"observation": "local", "some_gym_kwarg": 1})
    check_env_kwargs("pettingzoo:mpe2.simple_spread_v3", {"N": 4})
    check_env_kwargs("not_an_env", {"anything": 1})  # an unknown id is refused by its own check
    tiny(env="switch4_v0", env_kwargs={"phantom_blockers": False}).validate()


# ------------------------------------------------------------------------------------------------------------
# An unreachable Ray cluster


def test_an_unreachable_ray_address_fails_within_a_bounded_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--address HOST:PORT`` with nothing listening used to retry for minutes; a real closed port on the
    loopback is refused at once (the connection is refused; the bound on an unanswering host is
    CONNECT_TIMEOUT_S, not timed here: CI never fails on wall-clock time)."""
    pytest.importorskip("ray")
    # A port bound here but not listening refuses connections, and while it is held no other process (a Ray
    # test in the other xdist worker opens many ports) can take it and answer.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        err = cli_error(
            [
                "train",
                *SMALL,
                "--rollout",
                "ray",
                "--address",
                f"127.0.0.1:{port}",
                "--out",
                str(tmp_path / "r"),
            ],
            capsys,
        )
    assert f"address='127.0.0.1:{port}': no Ray cluster answers there (Connection refused" in err
    assert "ray start --head" in err
    assert not (tmp_path / "r").exists()  # nothing left behind


def test_an_unreachable_sweep_address_fails_within_a_bounded_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``matrl sweep --address HOST:PORT`` handed a closed address to ray.init, which retried for minutes;
    it is now checked as for ``train --rollout ray``, before Ray is imported or anything is written."""
    args = ["sweep", "--envs", "checkers_v0", "--algos", "il", "--seeds", "0", "--steps", "64"]
    with socket.socket() as sock:  # bound, not listening: refused, and no other process can take the port
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        err = cli_error([*args, "--out", str(tmp_path / "s"), "--address", f"127.0.0.1:{port}"], capsys)
    assert f"address='127.0.0.1:{port}': no Ray cluster answers there (Connection refused" in err
    assert not (tmp_path / "s").exists()


# ------------------------------------------------------------------------------------------------------------
# The fault marker


FAULT_TESTS = (
    "test_reliability.py::test_a_kill_before_the_first_checkpoint_resumes_bit_identically",
    "test_reliability.py::test_ctrl_c_prints_where_to_resume_and_exits_130",
    "test_reliability.py::test_a_full_disk_is_one_line_and_leaves_no_partial_files",
    "test_reliability.py::test_a_read_only_directory_is_one_line",
    "test_run_lock.py::test_a_second_process_fails_at_once_naming_the_holder_and_the_lock_dies_with_it",
    "test_run_lock.py::test_two_runs_started_together_never_mix",
)


def test_fault_tests_carry_the_fault_marker_and_ci_still_runs_them() -> None:
    """``-m fault`` selects the fault-injection tests that take time, and ``-m "not fault"`` leaves them out
    of a quick run; neither pytest's addopts nor `make test` (CI) deselects them."""
    import importlib.util
    import tomllib

    root = Path(__file__).resolve().parents[1]
    modules: dict[str, Any] = {}
    for name in FAULT_TESTS:
        module_file, function = name.split("::")
        if module_file not in modules:
            spec = importlib.util.spec_from_file_location(
                f"_{module_file[:-3]}", root / "tests" / module_file
            )
            assert spec is not None and spec.loader is not None
            modules[module_file] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(modules[module_file])
        marks = [m.name for m in getattr(getattr(modules[module_file], function), "pytestmark", [])]
        assert "fault" in marks, name
    options = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert any(m.startswith("fault:") for m in options["markers"])
    assert "-m" not in options["addopts"].split() and "fault" not in options["addopts"]
    make_test = (root / "Makefile").read_text().split("\ntest: ")[1].split("\n\n")[0]
    pytest_args = make_test.split("-m pytest", 1)[1].split()
    assert "-m" not in pytest_args and not any("fault" in arg for arg in pytest_args), make_test
