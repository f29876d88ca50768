"""`matrl envs`: every id (built-in, `register_env`, entry points) with its agent count and observation and
action spaces; user envs are built only with ``--build`` (issue 18)."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces
from pz_toys import team

from matrl.cli import main
from matrl.envs import register_env
from matrl.envs import registry as env_registry
from matrl.envs.catalog import UNKNOWN, space_kind


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A registered toy with two kinds of agents, one that cannot be built, and an entry point."""
    register_env("team_listed", team)
    register_env("broken_listed", lambda: object())
    point = metadata.EntryPoint(name="team_point", value="pz_toys:team", group=env_registry.ENTRY_POINT_GROUP)

    def entry_points(**kwargs: str) -> list[metadata.EntryPoint]:
        return [point] if kwargs.get("name", point.name) == point.name else []

    monkeypatch.setattr(env_registry.metadata, "entry_points", entry_points)
    yield
    env_registry._REGISTERED.pop("team_listed", None)
    env_registry._REGISTERED.pop("broken_listed", None)


def rows(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, list[str]]:
    """`matrl envs` output: id -> its cells (split on runs of two or more spaces)."""
    main(["envs", *args])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "agents", "observations", "actions", "supports", "source", "note"]
    hints = [i for i, line in enumerate(lines) if line.startswith("pettingzoo:PACKAGE.MODULE[:FACTORY]")]
    assert hints, lines[-3:]  # after the table: how to name any PettingZoo env (and other sources)
    table = [[c.strip() for c in line.split("  ") if c.strip()] for line in lines[1 : hints[0]]]
    return {cells[0]: cells[1:] for cells in table}


def test_built_in_ids_show_their_spaces_and_user_ids_are_not_built(
    capsys: pytest.CaptureFixture[str],
) -> None:
    listed = rows(capsys)
    assert list(listed)[:4] == ["checkers_v0", "switch2_v0", "switch4_v0", "matrix_v0"]
    assert set(env_registry.ENV_IDS) | {"team_listed", "broken_listed", "team_point"} == set(listed)
    assert listed["checkers_v0"] == ["2", "Box(11,) float32", "Discrete(5)", "snapshots,frames", "grid world"]
    assert listed["switch4_v0"] == ["4", "Box(2,) float32", "Discrete(5)", "snapshots,frames", "grid world"]
    assert listed["matrix_v0"][3] == "snapshots"
    assert listed["hopper_3x1"][3] == "snapshots,workers"
    assert listed["matrix_v0"][:3] == ["2", "Box(1,) float32", "Discrete(2)"]
    pong = listed["pong_v3"]
    pong_spaces = ["2", "Box(3, 84, 84) uint8 image", "Discrete(6)"]
    assert pong[:3] == pong_spaces or pong[-1].startswith("cannot build here")  # without ROMs
    unbuilt = ["?", UNKNOWN, UNKNOWN, "workers,frames?"]
    assert listed["team_listed"] == [*unbuilt, "register_env", "matrl envs --build builds it"]
    assert listed["team_point"][:5] == [*unbuilt, "entry point pz_toys:team"]
    assert listed["broken_listed"][3] == "frames?"  # a lambda: no worker can rebuild it


def test_build_reads_user_envs_and_a_broken_one_is_a_note(capsys: pytest.CaptureFixture[str]) -> None:
    listed = rows(capsys, "--build")
    assert listed["team_listed"] == [
        "2",
        "Box(3,) float32 x1, Box(5,) float32 x1",
        "Discrete(2) x1, Discrete(4) x1",
        "workers",  # the toy has no rgb_array render mode
        "register_env",
    ]
    assert listed["team_point"][:3] == listed["team_listed"][:3]
    broken = listed["broken_listed"]
    assert broken[:4] == ["?", UNKNOWN, UNKNOWN, "frames?"]
    expected = "cannot build here: ValueError: env 'broken_listed': its factory returned object"
    assert broken[-1].startswith(expected)
    assert listed["checkers_v0"][0] == "2"  # the broken env hides no other row


@pytest.mark.parametrize(
    ("space", "kind"),
    [
        (spaces.Discrete(3), "Discrete(3)"),
        (spaces.Discrete(3, start=1), "Discrete(3, start=1)"),
        (spaces.Box(-1, 1, (4,), np.float64), "Box(4,) float64"),
        (spaces.Box(0, 1, (2, 3), np.float32), "Box(2, 3) float32"),
        (spaces.Box(0, 255, (8, 8, 3), np.uint8), "Box(8, 8, 3) uint8 image"),
        (spaces.Dict({"a": spaces.Discrete(2)}), "Dict"),
    ],
)
def test_space_kinds(space: Any, kind: str) -> None:
    assert space_kind(space) == kind
