"""rgb_array frames and GIF recording."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from matrl.envs import GRID_ENV_IDS, drawing, make_env, make_vector_env
from matrl.envs.render import record_episode

SHAPES = {"checkers_v0": (96, 256, 3), "switch2_v0": (96, 224, 3), "switch4_v0": (96, 224, 3)}


@pytest.mark.parametrize("env_id", GRID_ENV_IDS)
def test_frames_shape_dtype_and_change(env_id: str) -> None:
    env = make_env(env_id, render_mode="rgb_array")
    env.reset()
    first = env.render()
    assert first is not None
    assert first.shape == SHAPES[env_id] and first.dtype == np.uint8
    env.step(dict.fromkeys(env.agents, 0))  # everybody DOWN: someone moves in every game
    second = env.render()
    assert second is not None and not np.array_equal(first, second)


def test_checkers_colours_are_distinct() -> None:
    frame = make_vector_env("checkers_v0", 1).render_rgb(0)
    colours = {tuple(int(v) for v in px) for px in frame.reshape(-1, 3)}
    for colour in (drawing.APPLE, drawing.LEMON, *drawing.AGENT_COLORS[:2]):
        assert colour in colours


def test_switch_frame_shows_walls_targets_and_phantoms() -> None:
    frame = make_vector_env("switch2_v0", 1).render_rgb(0)
    cell = drawing.CELL
    assert tuple(frame[cell // 2, 3 * cell - cell // 2 + 8]) == drawing.WALL  # (0, 2) is a wall
    assert tuple(frame[2 * cell + cell // 2, cell + cell // 2]) == drawing.PHANTOM  # phantom at (2, 1)
    no_phantom = make_vector_env("switch2_v0", 1, phantom_blockers=False).render_rgb(0)
    assert tuple(no_phantom[2 * cell + cell // 2, cell + cell // 2]) == drawing.BACKGROUND
    target_0 = drawing.tint(drawing.AGENT_COLORS[0], 0.65)
    assert tuple(frame[4, 6 * cell + 4]) == target_0  # agent 0's target at (0, 6)


def test_render_batch_index_checked() -> None:
    core = make_vector_env("switch4_v0", 2)
    core.render_rgb(1)
    with pytest.raises(ValueError, match=r"env_index 2 out of range; allowed 0\.\.1"):
        core.render_rgb(2)


def test_render_without_mode_returns_none_and_bad_mode_raises() -> None:
    env = make_env("checkers_v0")
    env.reset()
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None
    with pytest.raises(ValueError, match=r"unsupported render_mode 'human'"):
        make_env("checkers_v0", render_mode="human")


def test_final_frame_shows_terminal_state() -> None:
    env = make_env("switch2_v0", render_mode="rgb_array", max_steps=1)
    env.reset()
    start = env.render()
    env.step({"agent_0": 0, "agent_1": 4})
    assert env.agents == []
    assert not np.array_equal(env.render(), start)  # not the auto-reset start state


@pytest.mark.parametrize("env_id", GRID_ENV_IDS)
def test_record_episode_random(env_id: str, tmp_path: Path) -> None:
    out = tmp_path / "sub" / f"{env_id}.gif"
    frames = record_episode(env_id, out, seed=0, fps=8)
    assert out.exists() and out.stat().st_size > 0
    expected_len = {"checkers_v0": 100, "switch2_v0": 50, "switch4_v0": 50}[env_id]
    assert frames == expected_len + 1  # random play almost never finishes early; reset frame + one per step
    gif = iio.imread(out, index=None)
    assert gif.ndim == 4 and gif.shape[1:3] == SHAPES[env_id][:2]
    assert record_episode(env_id, tmp_path / "again.gif", seed=0) == frames


def test_record_episode_with_policy(tmp_path: Path) -> None:
    plan = iter(
        [[0, 0], [3, 0], [3, 0], [3, 2], [3, 0], [3, 0], [0, 1], [0, 1], [0, 1], [0, 1], [2, 1], [2, 2]]
    )

    def policy(obs: Mapping[str, np.ndarray]) -> dict[str, int]:
        a0, a1 = next(plan)
        assert set(obs) == {"agent_0", "agent_1"}
        return {"agent_0": a0, "agent_1": a1}

    assert record_episode("switch2_v0", tmp_path / "opt.gif", policy=policy) == 13


def test_record_episode_rejects_bad_fps(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fps must be positive"):
        record_episode("checkers_v0", tmp_path / "x.gif", fps=0)
