"""`matrl render`, `crossplay`, `versus-random` and `sweep` with third-party PettingZoo ids (issue 18): frames
from envs built with ``render_mode="rgb_array"``, two-player games whose agents differ, ``pettingzoo:`` ids in
``--envs``."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from matrl.algorithm import build_actor_critic
from matrl.checkpoint import model_path, save_model
from matrl.cli import main
from matrl.config import CNNConfig, TrainConfig, preset
from matrl.envs import make_env, make_vector_env, register_env
from matrl.envs import registry as env_registry
from matrl.envs.render import record_episode
from matrl.eval.crossplay import crossplay
from matrl.eval.evaluate import checkpoint_policy, load_policy
from matrl.eval.versus_random import versus_random
from matrl.sweep import expand_grid, parse_env_ids

#: mpe2 is an optional extra (matrl[mpe]: its pygame-ce replaces pygame), so CI may not have it.
needs_mpe2 = pytest.mark.skipif(importlib.util.find_spec("mpe2") is None, reason="needs mpe2 (matrl[mpe])")
SPREAD = "pettingzoo:mpe2.simple_spread_v3"
PUSH = "pettingzoo:mpe2.simple_push_v3"


def write_run(root: Path, env: str, algo: str, seed: int, env_kwargs: dict[str, object]) -> Path:
    """A run directory holding two model checkpoints of random (non-uniform) policies."""
    config = dataclasses.replace(TrainConfig(env=env), algo=algo, hidden=(8,), env_kwargs=env_kwargs)
    core = make_vector_env(env, 1, **env_kwargs)
    for k, iteration in enumerate((1, 2)):
        torch.manual_seed(seed * 100 + k)
        net = build_actor_critic(config, core.n_agents, core.obs_dim, core.action_spec)
        with torch.no_grad():
            for p in net.policy.parameters():
                p.add_(torch.randn_like(p) * 3.0)
        save_model(model_path(root, iteration), net, config.to_dict(), iteration, iteration * 100)
    core.close()
    return root


@needs_mpe2
def test_render_draws_a_pettingzoo_env(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["render", "--env", SPREAD, "--out", str(tmp_path / "spread.gif")])
    assert f"wrote {tmp_path / 'spread.gif'} (26 frames)" in capsys.readouterr().out  # max_cycles 25
    frames = iio.imread(tmp_path / "spread.gif")
    assert frames.ndim == 4 and frames.shape[-1] in (3, 4) and len(frames) >= 2
    kwargs = {"max_cycles": 4, "continuous_actions": True}
    assert record_episode(SPREAD, tmp_path / "box.gif", env_kwargs=kwargs) == 5


@needs_mpe2
def test_render_checkpoint_plays_a_heterogeneous_team(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """simple_push: observations of 8 and 19 values, packed as in training (padded, one-hot id)."""
    kwargs = {"max_cycles": 6, "one_hot_agent_id": True}
    run = write_run(tmp_path / "push", PUSH, "matrl", 0, kwargs)
    model = sorted((run / "checkpoints").glob("iter_*.safetensors"))[-1]
    act, config, iteration = checkpoint_policy(model, greedy=True)
    env = make_env(PUSH, **kwargs)
    obs, _ = env.reset(seed=2)
    core = make_vector_env(PUSH, 1, seed=2, **kwargs)
    rows = core.reset()
    policy = load_policy(model)[0]
    expected = policy.env_actions(rows, True, torch.Generator())[0]
    assert act(obs) == {a: int(expected[i]) for i, a in enumerate(env.possible_agents)}
    assert (config.env, iteration) == (PUSH, 2)
    for name in ("a.gif", "b.gif"):
        main(["render", "--checkpoint", str(run), "--seed", "3", "--out", str(tmp_path / name)])
    assert f"matrl on {PUSH}, iter_000002.safetensors" in capsys.readouterr().out
    assert len(iio.imread(tmp_path / "a.gif")) >= 2
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()  # seeded sampling


def no_frames(**kwargs: Any) -> Any:
    """simple_spread claiming no render modes: a PettingZoo env that draws no frames."""
    env = make_env(SPREAD, **kwargs)
    env.metadata = {**env.metadata, "render_modes": []}
    return env


@needs_mpe2
def test_render_refuses_envs_without_frames_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register_env("no_frames", no_frames)
    for env, message in [
        ("matrix_v0", "no frames for env id 'matrix_v0': it draws no rgb_array frames; ids with frames: "),
        ("no_frames", "no frames for env id 'no_frames': its render modes are []; rgb_array is needed"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(["render", "--env", env, "--out", str(tmp_path / "x.gif")])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
    env_registry._REGISTERED.pop("no_frames", None)
    assert not (tmp_path / "x.gif").exists()


@needs_mpe2
def test_crossplay_and_versus_random_on_a_two_player_pettingzoo_env(tmp_path: Path) -> None:
    """simple_push (adversary and agent, observations of different sizes): each seat keeps its role."""
    kwargs = {"max_cycles": 8}
    a = write_run(tmp_path / "a", PUSH, "matrl", 0, kwargs)
    b = write_run(tmp_path / "b", PUSH, "il", 1, kwargs)
    result = crossplay(a, b, episodes=3, both_seats=True)
    assert result.score.shape == (2, 2) and np.all(np.isfinite(result.score))
    assert np.all(result.length == 8.0) and np.all(result.truncated == 1.0)
    assert len({float(v) for v in result.score.ravel()}) > 1  # the checkpoints differ
    again = crossplay(a, b, episodes=3, both_seats=True)
    np.testing.assert_array_equal(result.score, again.score)  # seeded
    rows = versus_random([a], episodes=3).rows
    assert [r["iteration"] for r in rows] == [1, 2] and all(np.isfinite(r["score"]) for r in rows)
    with pytest.raises(ValueError, match=f"max_steps=5 is not allowed for {PUSH}: a PettingZoo env's"):
        crossplay(a, b, episodes=3, max_steps=5)
    spread = write_run(tmp_path / "spread", SPREAD, "matrl", 0, {"max_cycles": 4})
    with pytest.raises(ValueError, match=f"need a two-player env; {SPREAD} has 3 agents"):
        crossplay(spread, spread, episodes=2)


def test_sweep_takes_pettingzoo_ids(tmp_path: Path) -> None:
    assert parse_env_ids(f"checkers_v0, {SPREAD},{SPREAD}") == ("checkers_v0", SPREAD)
    plans = expand_grid((SPREAD,), ("matrl",), (0,), tmp_path, steps=100)
    assert plans[0].config.env == SPREAD and plans[0].run_dir.parts[-3] == SPREAD
    with pytest.raises(ValueError, match=r"^--envs: unknown env id 'nope'; known ids: checkers_v0"):
        parse_env_ids("checkers_v0,nope")
    with pytest.raises(ValueError, match=r"^--envs: env id 'pettingzoo:bad id' is not allowed"):
        parse_env_ids("pettingzoo:bad id")
    register_env("sweep_local", make_env)
    try:
        with pytest.raises(
            ValueError, match=r"^--envs: env 'sweep_local' is registered in this process only"
        ):
            parse_env_ids("sweep_local")
    finally:
        env_registry._REGISTERED.pop("sweep_local", None)


def test_render_checkpoint_plays_pong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Frames beyond grid worlds and PettingZoo: a Pong run's policy (CNN over the image observations)."""
    kwargs = {"preprocessing": "atari", "max_steps": 6}
    config = dataclasses.replace(
        preset("pong_v3"),
        hidden=(8,),
        cnn=CNNConfig(channels=(4, 4), kernels=(8, 4), strides=(4, 2)),
        env_kwargs=kwargs,
    )
    core = make_vector_env("pong_v3", 1, **kwargs)
    net = build_actor_critic(config, 2, core.obs_dim, core.action_spec, obs_shape=core.obs_shape)
    core.close()
    save_model(model_path(tmp_path / "pong", 1), net, config.to_dict(), 1, 24)
    main(["render", "--checkpoint", str(tmp_path / "pong"), "--out", str(tmp_path / "pong.gif")])
    assert f"wrote {tmp_path / 'pong.gif'} (7 frames; matrl on pong_v3" in capsys.readouterr().out
    assert iio.imread(tmp_path / "pong.gif").shape[-1] in (3, 4)
