"""Record one episode as an animated GIF: any env whose copies draw ``rgb_array`` frames (the grid
worlds' numpy drawing, Pong's emulator screen, a PettingZoo env built with ``render_mode="rgb_array"``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from matrl.envs.registry import env_capabilities, env_ids_with, is_third_party, make_env

Policy = Callable[[Mapping[str, NDArray[Any]]], Mapping[str, Any]]

#: An episode longer than this many steps is cut (a GIF of it would be unwatchable anyway).
MAX_FRAMES = 2_000


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
    dict) is given. The first frame is the reset state, then one frame per step, the last one the final state
    (at most :data:`MAX_FRAMES`). (The GIF encoder merges identical consecutive frames into one longer frame,
    so the file may hold fewer.) An env without frames is refused in one line.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if not env_capabilities(env_id, env_kwargs).frames:
        raise ValueError(
            f"no frames for env id {env_id!r}: it draws no rgb_array frames; ids with frames: "
            f"{', '.join(env_ids_with('frames'))} and PettingZoo envs with an rgb_array render mode"
        )
    env: Any = make_env(env_id, render_mode="rgb_array", **dict(env_kwargs or {}))
    try:
        if is_third_party(env_id):
            modes = list(getattr(env, "metadata", {}).get("render_modes", []))
            if "rgb_array" not in modes:
                raise ValueError(
                    f"no frames for env id {env_id!r}: its render modes are {modes}; rgb_array is needed"
                )
        rng = np.random.default_rng(seed)
        obs, _ = env.reset(seed=seed)
        frames = [_frame(env.render(), env_id)]
        while env.agents and len(frames) < MAX_FRAMES:
            actions = _random_actions(env, rng) if policy is None else dict(policy(obs))
            obs, _, _, _, _ = env.step(actions)
            frames.append(_frame(env.render(), env_id))
    finally:
        env.close()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Pillow's GIF writer takes the per-frame duration in milliseconds; loop=0 repeats forever.
    iio.imwrite(out, np.stack(frames), extension=".gif", duration=1000.0 / fps, loop=0)
    return len(frames)


def _random_actions(env: Any, rng: np.random.Generator) -> dict[str, Any]:
    """Uniform actions of the agents present: one draw of their common count when every agent has the same
    ``Discrete(K)`` (the grid worlds' draws, unchanged), else each agent from its own space."""
    agents = list(env.agents)
    found = [env.action_space(agent) for agent in agents]
    if all(isinstance(s, spaces.Discrete) and int(s.start) == 0 and s.n == found[0].n for s in found):
        draws = rng.integers(0, int(found[0].n), size=len(agents))
        return {agent: int(a) for agent, a in zip(agents, draws, strict=True)}
    actions: dict[str, Any] = {}
    for agent, space in zip(agents, found, strict=True):
        if isinstance(space, spaces.Discrete):
            actions[agent] = int(space.start) + int(rng.integers(0, int(space.n)))
        elif isinstance(space, spaces.Box):
            actions[agent] = rng.uniform(space.low, space.high).astype(space.dtype)
        else:
            raise ValueError(f"agent {agent!r} has action space {space}; random actions need Discrete or Box")
    return actions


def _frame(frame: Any, env_id: str) -> NDArray[np.uint8]:
    array = None if frame is None else np.asarray(frame)
    if array is None or array.ndim != 3 or array.shape[-1] not in (3, 4):
        what = "nothing" if array is None else f"an array of shape {array.shape}"
        raise ValueError(f"env {env_id!r} rendered {what}; expected an (H, W, 3) rgb_array frame")
    return array.astype(np.uint8, copy=False)
