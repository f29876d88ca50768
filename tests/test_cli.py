"""The `matrl` command: every subcommand has --help, and user errors end in one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from matrl.cli import SUBCOMMANDS, main


def test_top_level_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_each_subcommand_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    assert "usage: matrl " + name in capsys.readouterr().out


def test_unknown_env_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["render", "--env", "chekers_v0", "--out", str(tmp_path / "x.gif")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "chekers_v0" in err and "checkers_v0" in err
    assert not (tmp_path / "x.gif").exists()


def test_bad_option_value_is_rejected_before_running(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["matrix-games", "--variant", "nonsense"])
    assert exit_info.value.code == 2
    assert "nonsense" in capsys.readouterr().err


def test_envs_lists_the_grid_worlds(capsys: pytest.CaptureFixture[str]) -> None:
    main(["envs"])
    listed = capsys.readouterr().out.split()
    assert {"checkers_v0", "switch2_v0", "switch4_v0"} <= set(listed)


def test_console_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "matrl.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "matrix-games" in result.stdout
