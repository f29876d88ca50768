"""Two-player Atari Pong: equal to PettingZoo's pong_v3, both preprocessing pipelines, seeding, snapshots."""

from __future__ import annotations

import hashlib
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from pettingzoo.test import parallel_api_test

from matrl.envs.core import StepResult
from matrl.envs.pong import (
    ALE_STATE_BYTES,
    MINIMAL_ACTIONS,
    PongCore,
    PongParallelEnv,
    area_resize,
    find_pong_rom,
    make_reference_env,
)
from matrl.envs.subprocess_core import SubprocessVectorCore

FIELDS = ("obs", "final_obs", "rewards", "terminated", "truncated", "episode_over", "done")
FIELDS += ("episode_return", "episode_length")


def sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def random_actions(core: PongCore, steps: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, core.n_actions, size=(steps, core.num_envs, 2))


def assert_same_results(got: StepResult, want: StepResult, where: str) -> None:
    for name in FIELDS:
        g, w = getattr(got, name), getattr(want, name)
        assert g.dtype == w.dtype, f"{name} dtype at {where}"
        assert_array_equal(g, w, err_msg=f"{name} at {where}")
    assert got.info.keys() == want.info.keys()
    for key in got.info:
        assert_array_equal(got.info[key], want.info[key], err_msg=f"info {key} at {where}")


def chw(frames_hwc: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> (N, C, H, W)."""
    return frames_hwc.transpose(0, 3, 1, 2)


# ---------------------------------------------------------------------------------------------- ROM discovery
def test_find_pong_rom_is_ale_pys_roms_folder() -> None:
    import ale_py

    roms = find_pong_rom()
    assert roms == Path(ale_py.__file__).parent / "roms"
    assert (roms / "pong.bin").is_file()


@pytest.mark.parametrize("missing", ["ale_py", "multi_agent_ale_py"])
def test_find_pong_rom_names_the_missing_package(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # makes ``import missing`` raise ImportError
    package = missing.replace("_", "-")
    with pytest.raises(ImportError, match=rf"needs {package} .*: pip install ale-py multi-agent-ale-py$"):
        find_pong_rom()
    with pytest.raises(ImportError, match="pip install ale-py multi-agent-ale-py"):
        PongCore(1)


def test_find_pong_rom_without_the_rom_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = types.ModuleType("ale_py")
    fake.__file__ = str(tmp_path / "ale_py" / "__init__.py")
    monkeypatch.setitem(sys.modules, "ale_py", fake)
    with pytest.raises(ImportError, match=r"ale-py has no Pong ROM at .*pong\.bin; .*pip install"):
        find_pong_rom()


# ---------------------------------------------------------------------------------------------- resizing
# sha256 of three pong_v3 screens (reset(seed=0), then first_0 plays t % 6 and second_0 (t // 7) % 6; the
# screens after steps 50, 120, 199), and of cv2.resize(..., (84, 84), interpolation=cv2.INTER_AREA) of each
# (opencv-python-headless 4.14.0 and 5.0.0 give the same bytes), for RGB and for grayscale screens.
SCREENS_RGB = "cb21722063f19bae25ef9d6d101217005222d0ad23ab6cf24670077efb2939a6"
SCREENS_GRAY = "bb32e514dfdfc2bbf6772556f430c8fda30b0843f1e7456da58d70849afe0012"
CV2_RGB = "33dc0bc172b27484a5482ef294ae070bb608cba41f29f6d157e6621494e5989e"
CV2_GRAY = "b08dc53960bb0d292979d33f6c1f5a73cee02dfcc5e1888d20dc20b1a50dcb0f"
# The same for np.random.default_rng(2024).integers(0, 256, size=(3, 210, 160, 3), dtype=np.uint8).
CV2_NOISE = "24f12c68156f9974606df829927f2e018644265e5748b7a1a0f2817ba62a2f83"


def reference_screens(obs_type: str) -> np.ndarray:
    env = make_reference_env(obs_type=obs_type)
    env.reset(seed=0)
    keep = []
    for t in range(200):
        obs, *_ = env.step({"first_0": t % 6, "second_0": (t // 7) % 6})
        if t in (50, 120, 199):
            keep.append(obs["first_0"])
    return np.stack(keep)


def test_area_resize_equals_opencv_inter_area() -> None:
    rgb = reference_screens("rgb_image")
    gray = reference_screens("grayscale_image")
    assert (sha(rgb), sha(gray)) == (SCREENS_RGB, SCREENS_GRAY), "the emulator's screens changed"
    assert sha(area_resize(rgb)) == CV2_RGB
    assert sha(area_resize(gray)) == CV2_GRAY
    noise = np.random.default_rng(2024).integers(0, 256, size=(3, 210, 160, 3), dtype=np.uint8)
    assert sha(area_resize(noise)) == CV2_NOISE


def test_area_resize_is_a_block_mean_for_whole_factors() -> None:
    x = np.random.default_rng(0).integers(0, 256, size=(5, 168, 252, 2), dtype=np.uint8)
    want = x.reshape(5, 84, 2, 84, 3, 2).astype(np.float64).mean(axis=(2, 4))
    got = area_resize(x)
    assert got.shape == (5, 84, 84, 2) and got.dtype == np.uint8
    assert np.abs(got - want).max() <= 0.5 + 1e-4
    const = np.full((2, 210, 160, 3), 77, dtype=np.uint8)
    assert (area_resize(const) == 77).all()
    with pytest.raises(ValueError, match="only shrinks"):
        area_resize(np.zeros((1, 50, 160, 1), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"uint8 of shape \(N, H, W, C\)"):
        area_resize(np.zeros((210, 160, 3), dtype=np.uint8))


# ---------------------------------------------------------------------------------------------- spaces
@pytest.mark.parametrize(
    ("preprocessing", "shape", "skip", "max_steps"),
    [("paper", (3, 84, 84), 1, 1000), ("atari", (4, 84, 84), 4, 27000)],
)
def test_shapes_dtypes_and_ranges(
    preprocessing: str, shape: tuple[int, ...], skip: int, max_steps: int
) -> None:
    core = PongCore(3, preprocessing=preprocessing)  # type: ignore[arg-type]
    assert core.obs_shape == shape and core.obs_dim == int(np.prod(shape)) and core.obs_dtype == np.uint8
    assert (core.frame_skip, core.max_steps, core.n_agents) == (skip, max_steps, 2)
    assert core.agent_ids == ("first_0", "second_0")
    assert core.action_spec.n == core.n_actions == 6 and not core.action_spec.continuous
    obs = core.reset()
    assert obs.shape == (3, 2, core.obs_dim) and obs.dtype == np.uint8
    res = core.step(random_actions(core, 1, 0)[0])
    for o in (obs, res.obs, res.final_obs):
        assert o.dtype == np.uint8 and 0 < o.min() and o.max() > 200  # Pong has no black pixels
    assert res.rewards.dtype == np.float32 and res.rewards.shape == (3, 2)
    assert res.info["score"].shape == (3, 2) and res.info["frame"].shape == (3,)
    assert_array_equal(res.obs[:, 0], res.obs[:, 1])  # both agents see the same screen
    assert PongCore(1, full_action_space=True).action_spec.n == 18


def test_unknown_arguments_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="unknown preprocessing 'dqn'; allowed: 'paper', 'atari'"):
        PongCore(1, preprocessing="dqn")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_steps must be >= 1"):
        PongCore(1, max_steps=0)
    with pytest.raises(
        ValueError, match=r"seed must be in 0\.\.2147483646 \(seed \+ k is an int32\), got -1"
    ):
        PongCore(1, seed=-1)
    with pytest.raises(ValueError, match="call reset"):
        PongCore(1).step(np.zeros((1, 2), dtype=np.int64))
    closed = PongCore(1)
    closed.reset()
    closed.close()
    with pytest.raises(ValueError, match="the core is closed"):
        closed.step(np.zeros((1, 2), dtype=np.int64))


def test_action_validation() -> None:
    core = PongCore(2)
    core.reset()
    with pytest.raises(
        ValueError, match=r"invalid action 6 for env 1, second_0; allowed: 0=NOOP, 1=FIRE, .*5=LEFTFIRE"
    ):
        core.step(np.array([[0, 0], [1, 6]]))
    with pytest.raises(ValueError, match=r"actions must have shape \(2, 2\)"):
        core.step(np.zeros((2,), dtype=np.int64))
    with pytest.raises(ValueError, match="integer dtype"):
        core.step(np.zeros((2, 2), dtype=np.float32))
    full = PongCore(1, full_action_space=True)
    full.reset()
    full.step(np.array([[17, 2]]))
    with pytest.raises(ValueError, match=r"invalid action 18 .*17=DOWNLEFTFIRE"):
        full.step(np.array([[18, 0]]))


#: ALE's 18 actions that act like each minimal action in Pong (UP and DOWN do nothing: the paddles move up
#: and down the screen with RIGHT and LEFT).
SAME_AS_MINIMAL = {
    0: (0, 2, 5),
    1: (1, 10, 13),
    3: (3, 6, 8),
    4: (4, 7, 9),
    11: (11, 14, 16),
    12: (12, 15, 17),
}


def test_the_18_actions_are_three_copies_of_the_6_minimal_ones() -> None:
    core = PongCore(1, full_action_space=True)
    core.reset()
    for a in random_actions(PongCore(1), 150, 8):
        core.step(np.asarray(MINIMAL_ACTIONS)[a])
    state = core.state_dict()

    def play(action: int, player: int) -> list[np.ndarray]:
        core.load_state_dict(state)
        joint = np.zeros((1, 2), dtype=np.int64)
        joint[0, player] = action
        return [np.concatenate([(r := core.step(joint)).obs.ravel(), r.rewards.ravel()]) for _ in range(25)]

    assert sorted(a for group in SAME_AS_MINIMAL.values() for a in group) == list(range(18))
    for player in (0, 1):
        runs = {a: play(a, player) for a in range(18)}
        for minimal, group in SAME_AS_MINIMAL.items():
            for a in group:
                assert all(np.array_equal(x, y) for x, y in zip(runs[a], runs[minimal], strict=True)), (
                    player,
                    a,
                )
        distinct = {tuple(np.concatenate(runs[m]).tolist()) for m in SAME_AS_MINIMAL}
        assert len(distinct) >= 2  # at least moving and standing still differ


# ------------------------------------------------------------------------------ equality with PettingZoo
def test_paper_pipeline_equals_pong_v3_over_a_whole_game() -> None:
    """Frames (resized), rewards, terminations and the auto-reset of a full 21-point game, step by step."""
    core = PongCore(1, max_steps=100_000)
    env = make_reference_env()
    ref, _ = env.reset(seed=0)
    obs = core.reset()
    assert_array_equal(obs[0, 0], chw(area_resize(ref["first_0"][None]))[0].ravel())
    rng = np.random.default_rng(1)
    points = np.zeros(2, dtype=np.int64)
    total = np.zeros(2)
    for t in range(10_000):
        a = rng.integers(0, 6, size=2)
        ref, rew, term, trunc, _ = env.step({"first_0": int(a[0]), "second_0": int(a[1])})
        res = core.step(a[None])
        assert_array_equal(
            res.final_obs[0, 1], chw(area_resize(ref["second_0"][None]))[0].ravel(), f"step {t}"
        )
        assert_array_equal(res.rewards[0], [rew["first_0"], rew["second_0"]], f"step {t}")
        assert res.terminated[0].tolist() == [term["first_0"], term["second_0"]], f"step {t}"
        assert not res.truncated.any() and not any(trunc.values())
        points += (res.rewards[0] > 0).astype(np.int64)
        total += res.rewards[0]
        assert_array_equal(res.info["score"][0], points)  # no serve penalty ever coincides with a point
        if res.episode_over[0]:
            break
    assert res.episode_over[0] and res.info["score"][0].max() == 21
    assert res.episode_length[0] == t + 1 == res.info["frame"][0] - 3  # ALE's reset runs 3 frames
    assert_array_equal(res.episode_return[0], total)
    ref, _ = env.reset()
    assert_array_equal(res.obs[0, 0], chw(area_resize(ref["first_0"][None]))[0].ravel())
    assert not np.array_equal(res.obs, res.final_obs)


def test_full_action_space_equals_pong_v3() -> None:
    core = PongCore(1, full_action_space=True)
    env = make_reference_env(full_action_space=True)
    env.reset(seed=0)
    core.reset()
    rng = np.random.default_rng(2)
    for t in range(300):
        a = rng.integers(0, 18, size=2)
        ref, rew, *_ = env.step({"first_0": int(a[0]), "second_0": int(a[1])})
        res = core.step(a[None])
        assert_array_equal(res.obs[0, 0], chw(area_resize(ref["first_0"][None]))[0].ravel(), f"step {t}")
        assert_array_equal(res.rewards[0], [rew["first_0"], rew["second_0"]])
    assert tuple(env.unwrapped.action_mapping.tolist()) == tuple(range(18))
    minimal = make_reference_env().unwrapped.action_mapping
    assert MINIMAL_ACTIONS == tuple(minimal.tolist()) == (0, 1, 3, 4, 11, 12)


def test_atari_pipeline_skips_pools_and_stacks_pong_v3_frames() -> None:
    """Each step is 4 pong_v3 frames; the newest frame is the resized max of the last 2 grayscale screens."""
    core = PongCore(2, preprocessing="atari")
    env = make_reference_env(obs_type="grayscale_image")
    ref, _ = env.reset(seed=0)
    obs = core.frames(core.reset())
    first = area_resize(ref["first_0"][None])[0, :, :, 0]
    for j in range(4):  # the reset frame fills the stack
        assert_array_equal(obs[0, 0, j], first)
    actions = random_actions(core, 60, 3)
    frame0 = core.step(actions[0]).info["frame"] - 4
    core.reset()
    for t, a in enumerate(actions):
        reward = np.zeros(2)
        screens = []
        for _ in range(4):
            ref, rew, *_ = env.step({"first_0": int(a[0, 0]), "second_0": int(a[0, 1])})
            reward += [rew["first_0"], rew["second_0"]]
            screens.append(ref["first_0"])
        res = core.step(a)
        new = core.frames(res.obs)
        pooled = np.maximum(screens[-2], screens[-1])
        assert_array_equal(new[0, 0, 3], area_resize(pooled[None])[0, :, :, 0], f"step {t}")
        assert_array_equal(new[:, :, :3], obs[:, :, 1:], f"stack shift at step {t}")
        assert_array_equal(res.rewards[0], reward)
        assert_array_equal(res.episode_length, [t + 1, t + 1])
        assert_array_equal(res.info["frame"], frame0 + 4 * (t + 1))  # 4 emulator frames per agent step
        obs = new


def test_frame_skip_and_stack_can_be_overridden() -> None:
    core = PongCore(1, preprocessing="atari", frame_skip=3, frame_stack=2, max_steps=10)
    assert core.obs_shape == (2, 84, 84)
    core.reset()
    frames = [core.step(np.array([[2, 3]])).info["frame"][0] for _ in range(4)]
    assert np.diff(frames).tolist() == [3, 3, 3]
    paper_stack = PongCore(1, frame_stack=2)
    assert paper_stack.obs_shape == (6, 84, 84)  # RGB frames stacked channel-wise, newest last
    prev = paper_stack.frames(paper_stack.reset())
    new = paper_stack.frames(paper_stack.step(np.array([[2, 3]])).obs)
    assert_array_equal(new[0, 0, :3], prev[0, 0, 3:])


def test_mirror_flips_the_second_players_view() -> None:
    plain, mirrored = PongCore(2), PongCore(2, mirror=True)
    plain.reset()
    mirrored.reset()
    for a in random_actions(plain, 20, 4):
        p, m = plain.step(a), mirrored.step(a)
    fp, fm = plain.frames(p.obs), mirrored.frames(m.obs)
    assert_array_equal(fm[:, 0], fp[:, 0])
    assert_array_equal(fm[:, 1], fp[:, 1, :, :, ::-1])
    assert_array_equal(m.rewards, p.rewards)


# ---------------------------------------------------------------------------------------------- episodes
def test_truncation_auto_reset_and_episode_stats() -> None:
    core = PongCore(2, max_steps=5)
    reset_obs = core.reset()
    up = np.full((2, 2), 2)  # RIGHT: both paddles move up, so the frames change
    for t in range(1, 6):
        res = core.step(up)
        assert_array_equal(res.episode_length, [t, t])
    assert res.episode_over.all() and res.truncated.all() and not res.terminated.any() and not res.done.any()
    assert_array_equal(res.obs, reset_obs)
    assert not np.array_equal(res.final_obs, reset_obs)
    assert res.episode_return.dtype == np.float64
    nxt = core.step(up)
    assert_array_equal(nxt.episode_length, [1, 1])
    assert not nxt.episode_over.any() and nxt.obs is nxt.final_obs
    assert_array_equal(nxt.info["frame"], [4, 4])

    manual = PongCore(1, max_steps=2, autoreset=False)
    manual.reset()
    manual.step(up[:1])
    assert manual.step(up[:1]).episode_over[0]
    with pytest.raises(ValueError, match=r"episode is over in env copies \[0\] \(autoreset=False\)"):
        manual.step(up[:1])
    manual.reset()
    manual.step(up[:1])


def test_episode_return_sums_rewards_including_serve_penalties() -> None:
    core = PongCore(1, preprocessing="atari", max_steps=250)
    core.reset()
    total = np.zeros(2)
    for _ in range(250):
        res = core.step(np.zeros((1, 2), dtype=np.int64))  # nobody serves
        total += res.rewards[0]
    assert res.truncated.all()
    assert_array_equal(res.episode_return[0], total)
    # With NOOPs the serve timer hits the player due to serve, so the game is not zero-sum.
    assert total.sum() < 0


# ---------------------------------------------------------------------------------------------- seeding
def run_obs(core: PongCore, actions: np.ndarray) -> list[np.ndarray]:
    out = [core.reset()]
    for a in actions:
        res = core.step(a)
        out += [res.obs, res.rewards, res.info["frame"]]
    return out


def test_same_seed_same_observations() -> None:
    kwargs: dict[str, Any] = {"preprocessing": "atari", "noop_max": 30, "max_steps": 40}
    actions = random_actions(PongCore(3, **kwargs), 200, 5)
    first = run_obs(PongCore(3, seed=7, **kwargs), actions)
    second = run_obs(PongCore(3, seed=7, **kwargs), actions)
    for a, b in zip(first, second, strict=True):
        assert_array_equal(a, b)
    # The no-op starts differ between copies, episodes and seeds (seen in the episode's frame counter).
    other = PongCore(3, seed=8, **kwargs)
    other.reset()
    core = PongCore(3, seed=7, **kwargs)
    core.reset()
    a0 = np.zeros((3, 2), dtype=np.int64)
    starts = [core.step(a0).info["frame"] - 4]
    assert len(set(starts[0].tolist())) > 1
    assert not np.array_equal(other.step(a0).info["frame"] - 4, starts[0])
    # Without no-op starts the emulator is deterministic and the seed changes nothing.
    plain = [run_obs(PongCore(2, seed=s, max_steps=50), actions[:60, :2]) for s in (0, 123)]
    for a, b in zip(*plain, strict=True):
        assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------- snapshots
@pytest.mark.parametrize(
    "kwargs",
    [{"preprocessing": "atari", "max_steps": 45, "noop_max": 8}, {"preprocessing": "paper", "max_steps": 70}],
)
def test_snapshot_restores_bit_identically(kwargs: dict[str, Any]) -> None:
    actions = random_actions(PongCore(2, **kwargs), 200, 6)
    core = PongCore(2, seed=3, **kwargs)
    core.reset()
    for a in actions[:57]:
        core.step(a)
    state = core.state_dict()
    assert state["ale"].shape == (2, ALE_STATE_BYTES) and 0 < state["ale_size"].min()
    want = [core.step(a) for a in actions[57:]]
    assert any(r.episode_over.any() for r in want)  # resets happen after the snapshot
    fresh = PongCore(2, seed=99, **kwargs)
    fresh.reset()
    fresh.step(actions[0])  # a different emulator state, overwritten by the snapshot
    fresh.load_state_dict(state)
    for t, a in enumerate(actions[57:]):
        assert_same_results(fresh.step(a), want[t], f"step {57 + t}")


def test_worker_processes_give_the_same_numbers_and_snapshots() -> None:
    kwargs: dict[str, Any] = {"preprocessing": "atari", "noop_max": 10, "max_steps": 12}
    sharded = SubprocessVectorCore(PongCore, 4, 2, seed=5, **kwargs)
    try:
        local = PongCore(4, seed=5, **kwargs)
        assert_array_equal(sharded.reset(), local.reset())
        for t, a in enumerate(random_actions(local, 30, 9)):
            assert_same_results(sharded.step(a), local.step(a), f"step {t}")
        want = local.state_dict()
        got = sharded.state_dict()
        for key in want:
            assert_array_equal(got[key], want[key], err_msg=key)
    finally:
        sharded.close()


def test_bad_snapshots_are_rejected() -> None:
    core = PongCore(1)
    core.reset()
    state = core.state_dict()
    with pytest.raises(ValueError, match="missing state key 'frames'"):
        core.load_state_dict({k: v for k, v in state.items() if k != "frames"})
    with pytest.raises(ValueError, match="unknown state key 'extra'"):
        core.load_state_dict({**state, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match=r"state key 'frames' must be uint8 of shape \(1, 3, 84, 84\)"):
        core.load_state_dict({**state, "frames": np.zeros((1, 4, 84, 84), dtype=np.uint8)})
    with pytest.raises(ValueError, match="state key 'ale_size' of env copy 0 is 0"):
        core.load_state_dict({**state, "ale_size": np.zeros(1, dtype=np.int64)})


# ------------------------------------------------------------------------------------------ PettingZoo view
def test_parallel_env_passes_the_pettingzoo_api_test() -> None:
    env = PongParallelEnv(max_steps=40, render_mode="rgb_array")
    parallel_api_test(env, num_cycles=50)
    obs, _ = env.reset(seed=0)
    assert obs["first_0"].shape == (3, 84, 84) and obs["first_0"].dtype == np.uint8
    frame = env.render()
    assert frame is not None and frame.shape == (210, 160, 3)
    with pytest.raises(ValueError, match="sets \\['num_envs'\\] itself"):
        PongParallelEnv(num_envs=2)
