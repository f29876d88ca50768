"""Progress when stdout is not a terminal (nohup, tee, cluster jobs): `matrl train` prints plain log lines
instead of a rich bar that would stay silent until the end; ``--no-progress`` silences them (issue 18)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from matrl.cli import main

EXE = [sys.executable, "-m", "matrl.cli", "train"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
SMALL = ["--env", "checkers_v0", "--batch-size", "64", "--num-envs", "8", "--hidden", "16"]
LINE = re.compile(
    r"^matrl: iter (\d+)/(\d+)  env_steps (\d+) \(\d+%\)  (\d+) steps/s  return (?P<ret>\S+)"
    r"(?P<rho>  rho keep (\d+)/2 agents \(mean [01]\.\d\d\))?  elapsed \d+:\d\d:\d\d eta \d+:\d\d:\d\d$"
)


def run(args: list[str], settings: list[str] = SMALL) -> subprocess.CompletedProcess[str]:
    """`matrl train` in a child process whose stdout is a pipe (not a terminal)."""
    return subprocess.run([*EXE, *settings, *args], env=ENV, capture_output=True, text=True, timeout=300)


def progress_lines(stdout: str) -> list[re.Match[str]]:
    lines = [line for line in stdout.splitlines() if line.startswith("matrl: iter")]
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    return [m for m in matches if m is not None]


def test_plain_lines_every_n_iterations_without_a_terminal(tmp_path: Path) -> None:
    # 13 iterations of 8 steps per copy: Checkers' episodes (at most 100 steps) have ended by the last one.
    done = run(["--total-steps", str(64 * 13), "--log-every", "6", "--out", str(tmp_path / "run")])
    assert done.returncode == 0, done.stderr
    assert "matrl: training matrl on checkers_v0 seed 0: 13 iterations (832 env steps)" in done.stdout
    lines = progress_lines(done.stdout)
    # The first iteration, every sixth one after the last line, and the last one.
    assert [int(m.group(1)) for m in lines] == [1, 7, 13]
    assert all(int(m.group(2)) == 13 for m in lines)
    assert [int(m.group(3)) for m in lines] == [64, 448, 832]
    assert all(int(m.group(4)) > 0 for m in lines)
    assert all(m.group("rho") is not None for m in lines), "matrl plays the meta-game: rho must be summarised"
    assert lines[0].group("ret") == "n/a"  # no episode has ended after 8 steps
    assert float(lines[-1].group("ret")) < 0  # Checkers' step penalty
    assert "\x1b[" not in done.stdout  # no terminal escapes in a log file


def test_seconds_trigger_a_line_and_il_has_no_rho(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["--algo", "il", "--total-steps", str(64 * 4), "--log-every", "1000", "--log-seconds", "1e-6"]
    done = run([*args, "--out", str(out)])
    assert done.returncode == 0, done.stderr
    lines = progress_lines(done.stdout)
    assert [int(m.group(1)) for m in lines] == [1, 2, 3, 4]  # every iteration outlasts a microsecond
    assert all(m.group("rho") is None for m in lines)  # IL has no meta-game


def test_resume_logs_from_where_it_stopped_and_no_progress_is_silent(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = run(["--total-steps", str(64 * 2), "--no-progress", "--out", str(out)])
    assert first.returncode == 0, first.stderr
    assert "matrl: " not in first.stdout
    args = ["--resume", "--total-steps", str(64 * 4), "--log-every", "1", "--out", str(out)]
    extended = run(args, settings=[])
    assert extended.returncode == 0, extended.stderr
    assert "4 iterations (256 env steps, from iteration 2)" in extended.stdout
    assert [int(m.group(1)) for m in progress_lines(extended.stdout)] == [3, 4]


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [("--log-every", "0", "--log-every 0 is not allowed"), ("--log-seconds", "-1", "--log-seconds -1.0")],
)
def test_bad_log_settings_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, expected: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *SMALL, flag, value, "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"matrl: error: {expected}") and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_a_terminal_keeps_the_rich_bar(tmp_path: Path) -> None:
    """On a pseudo-terminal the rich bar is drawn and no plain lines are printed."""
    master, slave = pty.openpty()
    args = [*EXE, *SMALL, "--total-steps", str(64 * 3), "--log-every", "1", "--out", str(tmp_path / "run")]
    child = subprocess.Popen(args, env=ENV, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert child.wait(timeout=300) == 0
    shown = b"".join(chunks).decode(errors="replace")
    assert "matrl checkers_v0 seed 0" in shown and "3/3" in shown  # the bar's label and count
    assert "matrl: iter" not in shown and "matrl: training" not in shown
