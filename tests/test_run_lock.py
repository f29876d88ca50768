"""One process per run directory: a second `matrl train` into a directory in use fails at once, in one line
naming the holder's PID, and the lock dies with its holder (even on SIGKILL), so a resume is never blocked."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from matrl.config import TrainConfig
from matrl.fileio import RunLock, RunLockedError
from matrl.training import train

SMALL = ["--env", "checkers_v0", "--batch-size", "64", "--num-envs", "8", "--hidden", "16", "--no-progress"]
EXE = [sys.executable, "-m", "matrl.cli", "train"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _wait_for(predicate: object, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline and proc.poll() is None:  # type: ignore[operator]
        time.sleep(0.05)
    assert predicate(), f"timed out (process exit status {proc.poll()})"  # type: ignore[operator]


@pytest.mark.fault
def test_a_second_process_fails_at_once_naming_the_holder_and_the_lock_dies_with_it(tmp_path: Path) -> None:
    out = tmp_path / "run"
    long_run = [*SMALL, "--total-steps", str(64 * 2000), "--checkpoint-every", "1000", "--out", str(out)]
    holder = subprocess.Popen([*EXE, *long_run, "--seed", "7"], env=ENV, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: (out / "metrics.csv").is_file(), holder)
        assert (out / ".lock").read_text().strip() == str(holder.pid)
        start = time.monotonic()
        second = subprocess.run(
            [*EXE, *long_run, "--seed", "8"], env=ENV, capture_output=True, text=True, check=False
        )
        seconds = time.monotonic() - start
        resumed = subprocess.run(
            [*EXE, "--out", str(out), "--resume", "--no-progress"],
            env=ENV,
            capture_output=True,
            text=True,
            check=False,
        )
        assert holder.poll() is None  # neither refused process disturbed the holder
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    for refused in (second, resumed):
        assert refused.returncode == 2
        err = refused.stderr.strip()
        assert err.count("\n") == 0, err
        assert f"is in use by another matrl process (pid {holder.pid})" in err
    assert seconds < 30  # import time; it does not wait for the lock
    assert json.loads((out / "config.json").read_text())["seed"] == 7
    # SIGKILL released the lock: the run resumes at once (from its initial state).
    subprocess.run(
        [*EXE, "--out", str(out), "--resume", "--total-steps", "128", "--no-progress"],
        env=ENV,
        capture_output=True,
        check=True,
    )
    assert (out / ".lock").read_text() == ""  # a finished holder leaves no PID behind


@pytest.mark.fault
def test_two_runs_started_together_never_mix(tmp_path: Path) -> None:
    """Two `matrl train --out same` started at once (seeds 7 and 8): one trains, the other is refused in one
    line; metrics.csv holds the winner's rows only, in order (before the lock, both exited 0, rows mixed)."""
    out = tmp_path / "run"
    args = [*SMALL, "--total-steps", str(64 * 30), "--checkpoint-every", "5", "--out", str(out)]
    procs = {
        seed: subprocess.Popen(
            [*EXE, *args, "--seed", str(seed)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for seed in (7, 8)
    }
    results = {seed: (proc.wait(timeout=300), proc.stderr.read().decode()) for seed, proc in procs.items()}  # type: ignore[union-attr]
    for proc in procs.values():
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    codes = sorted(code for code, _ in results.values())
    assert codes == [0, 2], results
    winner = next(seed for seed, (code, _) in results.items() if code == 0)
    loser_err = next(err for code, err in results.values() if code == 2).strip()
    assert loser_err.count("\n") == 0, loser_err
    assert "is in use by another matrl process" in loser_err or "already holds a run" in loser_err
    assert TrainConfig.load(out / "config.json").seed == winner
    with (out / "metrics.csv").open() as f:
        iterations = [int(row["iteration"]) for row in csv.DictReader(f)]
    assert iterations == list(range(1, 31))


def test_train_into_a_locked_directory_is_refused_before_touching_it(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    config = TrainConfig(env="checkers_v0", total_steps=64, batch_size=64, num_envs=8, hidden=(8,))
    with RunLock(out):
        with pytest.raises(RunLockedError, match=rf"in use by another matrl process \(pid {os.getpid()}\)"):
            train(config, out, progress=False, tensorboard=False)
        assert sorted(p.name for p in out.iterdir()) == [".lock"]
        with pytest.raises(RunLockedError):
            RunLock(out).acquire()  # a second lock in the same process is refused too (flock per open file)
    train(config, out, progress=False, tensorboard=False)  # released: the run goes ahead
    assert TrainConfig.load(out / "config.json") == config
