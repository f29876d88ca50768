"""What `matrl envs` prints: every id with its agent count and observation and action spaces.

A built-in id is built once (one copy, under a second each) to read its spaces, so the table cannot drift
from the code. A registered or entry-point id is built only when asked (``build=True``): its factory is the
user's and may be slow or need a device, so it shows "unknown until built" otherwise.

The ``supports`` column is read from the id's capability flags (`matrl.envs.registry.env_capabilities`):
``snapshots`` (exact ``--resume``), ``workers`` (``--env-workers``), ``frames`` (``matrl render``; for a
third-party env ``frames?`` until it is built and its render modes are known), ``-`` for none.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from importlib import metadata
from typing import Any

from gymnasium import spaces

from matrl.envs.matrix import ENV_ID as MATRIX_ENV_ID
from matrl.envs.registry import (
    _REGISTERED,
    ENTRY_POINT_GROUP,
    ENV_IDS,
    GRID_ENV_IDS,
    MUJOCO_ENV_IDS,
    PONG_ENV_IDS,
    env_capabilities,
    env_ids,
    is_third_party,
    make_env,
)

UNKNOWN = "unknown until built"


@dataclasses.dataclass(frozen=True)
class EnvSummary:
    """One row of `matrl envs`; ``agents`` is None when the env was not (or could not be) built."""

    env_id: str
    source: str
    agents: int | None = None
    observations: str = UNKNOWN
    actions: str = UNKNOWN
    note: str = ""
    supports: str = "-"


def space_kind(space: Any) -> str:
    """A short name of a space: ``Discrete(5)``, ``Box(11,) float32``, ``Box(3, 84, 84) uint8 image``."""
    if isinstance(space, spaces.Discrete):
        start = f", start={int(space.start)}" if int(space.start) != 0 else ""
        return f"Discrete({int(space.n)}{start})"
    if isinstance(space, spaces.Box):
        shape = f"({space.shape[0]},)" if len(space.shape) == 1 else str(tuple(space.shape))
        return f"Box{shape} {space.dtype}" + (" image" if len(space.shape) == 3 else "")
    return type(space).__name__


def _per_agent(kinds: list[str]) -> str:
    """One kind when every agent has it, else each kind with its number of agents, in agent order."""
    counts = Counter(kinds)
    if len(counts) == 1:
        return kinds[0]
    return ", ".join(f"{kind} x{n}" for kind, n in counts.items())


def _source(env_id: str) -> str:
    if env_id in GRID_ENV_IDS:
        return "grid world"
    if env_id == MATRIX_ENV_ID:
        return "matrix game"
    if env_id in MUJOCO_ENV_IDS:
        return "MaMuJoCo"
    if env_id in PONG_ENV_IDS:
        return "Atari"
    if env_id in _REGISTERED:
        return "register_env"
    points = metadata.entry_points(group=ENTRY_POINT_GROUP, name=env_id)
    return f"entry point {next(iter(points)).value}" if points else "registered"


#: Notes on ids whose spaces depend on their env kwargs.
_NOTES = {
    "mamujoco": "defaults shown; set scenario and agent_conf in --env-kwargs",
    MATRIX_ENV_ID: "defaults shown; game or payoffs in --env-kwargs",
}


def supports(env_id: str, render_modes: list[str] | None = None) -> str:
    """The ``supports`` cell: the id's snapshot, worker and frame flags (``render_modes`` of a built
    third-party env decide its frames)."""
    try:
        flags = env_capabilities(env_id)
    except ValueError:
        return "-"
    frames = "frames" if flags.frames else ""
    if flags.frames and is_third_party(env_id):
        frames = "frames?" if render_modes is None else ("frames" if "rgb_array" in render_modes else "")
    names = ["snapshots" if flags.snapshots else "", "workers" if flags.worker_processes else "", frames]
    return ",".join(name for name in names if name) or "-"


def describe(env_id: str, build: bool | None = None) -> EnvSummary:
    """The summary of one id; ``build`` None builds only the built-in ids. A failed build is a note (one
    line), not an error, so one broken env does not hide the others."""
    source = _source(env_id)
    if not (env_id in ENV_IDS if build is None else build):
        return EnvSummary(env_id, source, note="matrl envs --build builds it", supports=supports(env_id))
    try:
        env = make_env(env_id)
    except Exception as err:  # any env can fail to build (a missing package, a ROM, the user's code)
        text = " ".join(str(err).split())[:200]
        note = f"cannot build here: {type(err).__name__}: {text}"
        return EnvSummary(env_id, source, note=note, supports=supports(env_id))
    try:
        agents = list(env.possible_agents)
        observations = _per_agent([space_kind(env.observation_space(a)) for a in agents])
        actions = _per_agent([space_kind(env.action_space(a)) for a in agents])
        modes = list(getattr(env, "metadata", {}).get("render_modes", []))
    finally:
        env.close()
    return EnvSummary(
        env_id, source, len(agents), observations, actions, _NOTES.get(env_id, ""), supports(env_id, modes)
    )


def summaries(build: bool | None = None) -> list[EnvSummary]:
    """Every id of `matrl.envs.registry.env_ids`, in its order."""
    return [describe(env_id, build) for env_id in env_ids()]


def format_table(rows: list[EnvSummary]) -> str:
    """An aligned plain-text table (one line per id), readable in a terminal and by ``grep``."""
    header = ("id", "agents", "observations", "actions", "supports", "source", "note")
    cells = [
        (
            r.env_id,
            "?" if r.agents is None else str(r.agents),
            r.observations,
            r.actions,
            r.supports,
            r.source,
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *cells]
    ]
    return "\n".join(lines)
