"""Record one episode of a grid world as an animated GIF (frames come from the cores' numpy drawing)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
from numpy.typing import NDArray

from matrl.envs.registry import GRID_ENV_IDS, make_env

Policy = Callable[[Mapping[str, NDArray[Any]]], Mapping[str, int]]


def record_episode(
    env_id: str,
    out: Path,
    seed: int = 0,
    fps: int = 4,
    policy: Policy | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
) -> int:
    """Play one episode of ``env_id`` and write it to the GIF ``out``; return the number of frames.

    Actions are uniformly random from ``numpy.random.default_rng(seed)`` unless ``policy`` (obs dict -> action
    dict) is given. The first frame is the reset state, then one frame per step, the last one the final state.
    (The GIF encoder merges identical consecutive frames into one longer frame, so the file may hold fewer.)
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if env_id not in GRID_ENV_IDS:
        raise ValueError(f"no frames for env id {env_id!r}; grid worlds only: {', '.join(GRID_ENV_IDS)}")
    env = make_env(env_id, render_mode="rgb_array", **dict(env_kwargs or {}))
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    frames = [_frame(env.render())]
    while env.agents:
        if policy is None:
            draws = rng.integers(0, env.core.n_actions, size=len(env.agents))
            actions = {agent: int(a) for agent, a in zip(env.agents, draws, strict=True)}
        else:
            actions = dict(policy(obs))
        obs, _, _, _, _ = env.step(actions)
        frames.append(_frame(env.render()))
    env.close()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Pillow's GIF writer takes the per-frame duration in milliseconds; loop=0 repeats forever.
    iio.imwrite(out, np.stack(frames), extension=".gif", duration=1000.0 / fps, loop=0)
    return len(frames)


def _frame(frame: NDArray[np.uint8] | None) -> NDArray[np.uint8]:
    if frame is None:  # pragma: no cover - make_env above always asks for rgb_array
        raise RuntimeError("environment returned no frame")
    return frame
