"""Multi-agent MuJoCo core: equal to gymnasium-robotics' env, bounded actions, snapshots, worker processes."""

from __future__ import annotations

import gc
import os
import signal
from typing import Any

import numpy as np
import pytest
from gymnasium_robotics import mamujoco_v1
from numpy.testing import assert_array_equal
from pettingzoo.test import parallel_api_test

from matrl.envs import ENV_IDS, MUJOCO_ENV_IDS, StepResult, SubprocessVectorCore, make_env, make_vector_env
from matrl.envs.mamujoco import MaMuJoCoCore, canonicalize_node_order
from matrl.rollout.local import LocalCollector

FIELDS = ("obs", "final_obs", "rewards", "terminated", "truncated", "episode_over", "done")
FIELDS += ("episode_return", "episode_length")


def random_actions(core: Any, steps: int, seed: int, scale: float = 1.0) -> np.ndarray:
    """(steps, E, A, dim) float32 actions uniform in ``scale`` times each agent's box."""
    spec = core.action_spec
    rng = np.random.default_rng(seed)
    u = rng.uniform(-1.0, 1.0, size=(steps, core.num_envs, core.n_agents, core.n_actions))
    mid, half = (spec.high + spec.low) / 2, (spec.high - spec.low) / 2
    return (mid + scale * half * u).astype(np.float32)


def assert_same_results(got: StepResult, want: StepResult, where: str) -> None:
    for name in FIELDS:
        g, w = getattr(got, name), getattr(want, name)
        assert g.dtype == w.dtype, f"{name} dtype at {where}"
        assert_array_equal(g, w, err_msg=f"{name} at {where}")
    assert got.info.keys() == want.info.keys()
    for key in got.info:
        assert_array_equal(got.info[key], want.info[key], err_msg=f"info {key} at {where}")


# ---------------------------------------------------------------------------------------------- spaces
def test_spaces_of_the_registered_ids() -> None:
    hopper = make_vector_env("hopper_3x1", 2)
    assert (hopper.env_id, hopper.n_agents, hopper.obs_dim, hopper.n_actions) == ("hopper_3x1", 3, 11, 1)
    assert hopper.agent_ids == ("agent_0", "agent_1", "agent_2")
    ant = make_vector_env("ant_4x2", 2)
    assert (ant.env_id, ant.n_agents, ant.obs_dim, ant.n_actions) == ("ant_4x2", 4, 105, 2)
    for core in (hopper, ant):
        spec = core.action_spec
        assert spec.continuous and spec.mask.all() and spec.dim == core.n_actions
        assert (spec.low == -1).all() and (spec.high == 1).all()
        assert core.reset().shape == (2, core.n_agents, core.obs_dim)
        assert core.reset().dtype == np.float32


@pytest.mark.parametrize(("scenario", "conf"), [("Hopper", "3x1"), ("Ant", "4x2"), ("Pusher", "3p")])
def test_local_observation_sizes_are_the_librarys(scenario: str, conf: str) -> None:
    lib = mamujoco_v1.parallel_env(scenario, conf)
    core = MaMuJoCoCore(1, scenario, conf, observation="local")
    dims = tuple(int(lib.observation_space(a).shape[0]) for a in lib.possible_agents)
    assert core.obs_dims == dims and core.obs_dim == max(dims)
    assert core.action_dims == tuple(int(lib.action_space(a).shape[0]) for a in lib.possible_agents)
    if scenario == "Hopper":
        assert dims == (8, 9, 8)


def test_registry_knows_the_mujoco_ids() -> None:
    assert MUJOCO_ENV_IDS == ("hopper_3x1", "ant_4x2", "mamujoco")
    assert set(MUJOCO_ENV_IDS) <= set(ENV_IDS)
    core = make_vector_env("mamujoco", 1, scenario="Swimmer", agent_conf="2x1", observation="local")
    assert (core.env_id, core.n_agents, core.obs_dims) == ("mamujoco", 2, (6, 6))
    with pytest.raises(ValueError, match=r"hopper_3x1 fixes scenario and agent_conf .*drop \['scenario'\]"):
        make_vector_env("hopper_3x1", 1, scenario="Ant")
    with pytest.raises(ValueError, match="num_workers=2 is not allowed for checkers_v0"):
        make_vector_env("checkers_v0", 2, num_workers=2)


# ------------------------------------------------------------------------------ equality with the library
@pytest.mark.parametrize(
    ("scenario", "conf", "observation"),
    [
        ("Hopper", "3x1", "local"),
        ("Hopper", "3x1", "global"),
        ("Ant", "4x2", "local"),
        ("Ant", "4x2", "global"),
        ("Walker2d", "2x3", "local"),  # the library's own _get_obs (no exact gather)
        ("Pusher", "3p", "local"),  # uneven action and observation sizes, library _get_obs
    ],
)
def test_matches_the_library_env_over_several_episodes(scenario: str, conf: str, observation: Any) -> None:
    """Local observations equal MultiAgentMujocoEnv.step's, global ones its state(), rewards and flags too."""
    num_envs, steps, seed = 2, 240, 11
    core = MaMuJoCoCore(num_envs, scenario, conf, observation=observation, max_steps=50, seed=seed)
    expected_mode = (
        "global" if observation == "global" else "library" if scenario in ("Walker2d", "Pusher") else "gather"
    )
    assert core._obs_mode == expected_mode
    libs = [mamujoco_v1.parallel_env(scenario, conf, max_episode_steps=50) for _ in range(num_envs)]
    if scenario == "Pusher":  # the library's order of its three equally named joints is arbitrary
        for lib in libs:
            canonicalize_node_order(lib)
    agents = libs[0].possible_agents

    def library_obs(k: int, local: dict[str, np.ndarray]) -> np.ndarray:
        out = np.zeros((core.n_agents, core.obs_dim), dtype=np.float32)
        for i, agent in enumerate(agents):
            row = libs[k].state() if observation == "global" else local[agent]
            out[i, : len(row)] = row
        return out

    obs = core.reset()
    lib_obs = [lib.reset(seed=seed + k)[0] for k, lib in enumerate(libs)]
    episodes = 0
    for t, actions in enumerate(random_actions(core, steps, seed=3)):
        for k in range(num_envs):
            assert_array_equal(obs[k], library_obs(k, lib_obs[k]), err_msg=f"obs of copy {k} at step {t}")
        res = core.step(actions)
        for k, lib in enumerate(libs):
            act = {a: actions[k, i, : core.action_dims[i]] for i, a in enumerate(agents)}
            lib_obs[k], rew, term, trunc, info = lib.step(act)
            assert_array_equal(
                res.final_obs[k], library_obs(k, lib_obs[k]), err_msg=f"final obs {k} step {t}"
            )
            assert (res.rewards[k] == np.float32(rew[agents[0]])).all()
            assert res.terminated[k].all() == term[agents[0]]
            assert res.truncated[k].all() == (trunc[agents[0]] and not term[agents[0]])
            if "x_velocity" in info[agents[0]]:
                assert res.info["x_velocity"][k] == info[agents[0]]["x_velocity"]
            if term[agents[0]] or trunc[agents[0]]:
                episodes += 1
                lib_obs[k], _ = lib.reset()
        obs = res.obs
    assert episodes >= 4


@pytest.mark.parametrize(("scenario", "conf"), [("Hopper", "3x1"), ("Ant", "4x2"), ("Humanoid", "9|8")])
def test_canonical_node_order_is_the_librarys_where_labels_are_unique(scenario: str, conf: str) -> None:
    lib = mamujoco_v1.parallel_env(scenario, conf)
    before = {agent: index.copy() for agent, index in lib.observation_factorization.items()}
    canonicalize_node_order(lib)
    for agent, index in lib.observation_factorization.items():
        assert_array_equal(index, before[agent])


def test_gathered_local_observations_match_the_library_at_other_depths() -> None:
    for obsk in (0, 2):
        core = MaMuJoCoCore(1, "Ant", "4x2", observation="local", agent_obsk=obsk, seed=5)
        lib = mamujoco_v1.parallel_env("Ant", "4x2", agent_obsk=obsk)
        assert core._obs_mode == "gather"
        obs = core.reset()
        local, _ = lib.reset(seed=5)
        for actions in random_actions(core, 30, seed=obsk):
            for i, agent in enumerate(lib.possible_agents):
                assert_array_equal(obs[0, i, : core.obs_dims[i]], local[agent].astype(np.float32))
            obs = core.step(actions).obs
            local, *_ = lib.step({a: actions[0, i] for i, a in enumerate(lib.possible_agents)})


# ----------------------------------------------------------------------------------------------- actions
def test_out_of_bounds_actions_act_as_their_clipped_values() -> None:
    wild, tame = MaMuJoCoCore(2, seed=1), MaMuJoCoCore(2, seed=1)
    wild.reset(), tame.reset()
    for actions in random_actions(wild, 40, seed=2, scale=4.0):
        assert np.abs(actions).max() > 1.0
        assert_same_results(wild.step(actions), tame.step(np.clip(actions, -1.0, 1.0)), "clipped")


def test_padding_entries_are_ignored() -> None:
    """Pusher 3p: agents control 3, 1 and 3 joints; agent_1's two padding entries never matter."""
    clean, noisy = (MaMuJoCoCore(2, "Pusher", "3p", observation="local", seed=4) for _ in range(2))
    spec = clean.action_spec
    assert clean.action_dims == (3, 1, 3) and spec.dim == 3
    assert spec.mask.tolist() == [[True] * 3, [True, False, False], [True] * 3]
    assert (spec.low[spec.mask] == -2).all() and (spec.high[spec.mask] == 2).all()
    clean.reset(), noisy.reset()
    rng = np.random.default_rng(0)
    for actions in random_actions(clean, 30, seed=5):
        actions[:, 1, 1:] = 0.0
        garbage = actions.copy()
        garbage[:, 1, 1:] = rng.choice([np.nan, np.inf, -1e9, 7.0], size=garbage[:, 1, 1:].shape)
        assert_same_results(noisy.step(garbage), clean.step(actions), "padding")


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (
            np.zeros((2, 3)),
            r"actions must have shape \(2, 3, 1\) \(num_envs, n_agents, action dim\), got shape \(2, 3\)",
        ),
        (
            np.array([[[0.0], [0.0], [0.0]], [[0.0], [np.nan], [0.0]]]),
            r"invalid action nan for env copy 1, agent_1",
        ),
        (np.full((2, 3, 1), "a"), r"actions must be real numbers, got dtype <U1"),
    ],
)
def test_bad_actions_are_one_line_errors(actions: np.ndarray, message: str) -> None:
    core = MaMuJoCoCore(2)
    core.reset()
    with pytest.raises(ValueError, match=message) as err:
        core.step(actions)
    assert "\n" not in str(err.value)


def test_bad_arguments_are_one_line_errors() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"scenario": "Hoper"}, r"unknown MaMuJoCo scenario 'Hoper'; allowed: Ant, HalfCheetah, Hopper"),
        (
            {"scenario": "Hopper", "agent_conf": "2x3"},
            r"unknown agent_conf '2x3' for Hopper; allowed: '3x1', None",
        ),
        ({"observation": "partial"}, r"unknown observation 'partial'; allowed: 'global', 'local'"),
        ({"max_steps": 0}, r"max_steps must be >= 1, got 0"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message) as err:
            MaMuJoCoCore(1, **kwargs)
        assert "\n" not in str(err.value)
    core = MaMuJoCoCore(1)
    with pytest.raises(ValueError, match=r"call reset\(\) before step\(\)"):
        core.step(np.zeros((1, 3, 1)))


# ------------------------------------------------------------------------------- seeds, resets, episodes
def run(core: Any, actions: np.ndarray) -> list[StepResult]:
    return [core.step(a) for a in actions]


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    a, b, c = MaMuJoCoCore(3, seed=7), MaMuJoCoCore(3, seed=7), MaMuJoCoCore(3, seed=8)
    first = a.reset()
    assert_array_equal(first, b.reset())
    other = c.reset()
    assert not np.array_equal(first, other)
    assert not np.array_equal(first[0], first[1])  # copy k is seeded with seed + k ...
    assert_array_equal(first[1], other[0])  # ... so seed 8's copy 0 is seed 7's copy 1
    actions = random_actions(a, 60, seed=0)
    for t, (x, y) in enumerate(zip(run(a, actions), run(b, actions), strict=True)):
        assert_same_results(x, y, f"step {t}")


def test_auto_reset_and_episode_statistics() -> None:
    core = MaMuJoCoCore(2, "Hopper", "3x1", seed=3)
    obs = core.reset()
    returns = np.zeros((2, 3))
    lengths = np.zeros(2, dtype=np.int64)
    finished = []
    for actions in random_actions(core, 200, seed=1):
        res = core.step(actions)
        returns += res.rewards
        lengths += 1
        assert_array_equal(res.episode_return, returns)
        assert_array_equal(res.episode_length, lengths)
        assert (res.rewards == res.rewards[:, :1]).all()  # the team reward
        assert_array_equal(res.done, res.terminated)
        for k in np.flatnonzero(res.episode_over):
            finished.append(int(lengths[k]))
            assert res.terminated[k].all() and not res.truncated[k].any()
            assert not np.array_equal(res.obs[k], res.final_obs[k])
            assert np.abs(res.obs[k, 0, 1:]).max() < 0.1  # back near the upright start pose
            returns[k], lengths[k] = 0.0, 0
        if not res.episode_over.any():
            assert res.obs is res.final_obs
        obs = res.obs
    assert finished and max(finished) < core.max_steps  # random Hopper episodes fall over early
    assert obs.shape == (2, 3, 11)


def test_time_limit_truncates_and_autoreset_false_stops() -> None:
    core = MaMuJoCoCore(1, "Swimmer", "2x1", max_steps=5, autoreset=False)  # a swimmer never falls over
    core.reset()
    actions = random_actions(core, 6, seed=0)
    results = run(core, actions[:5])
    assert [bool(r.episode_over[0]) for r in results] == [False] * 4 + [True]
    assert results[-1].truncated.all() and not results[-1].terminated.any()
    with pytest.raises(ValueError, match=r"episode is over in env copies \[0\] \(autoreset=False\)"):
        core.step(actions[5])
    core.reset()
    core.step(actions[5])


# --------------------------------------------------------------------------------------------- snapshots
@pytest.mark.parametrize(("scenario", "conf"), [("Hopper", "3x1"), ("Ant", "4x2")])
def test_snapshot_continues_bit_identically_in_a_fresh_core(scenario: str, conf: str) -> None:
    kwargs: dict[str, Any] = {"observation": "local", "max_steps": 40}
    core = MaMuJoCoCore(3, scenario, conf, seed=2, **kwargs)
    core.reset()
    actions = random_actions(core, 150, seed=9)
    run(core, actions[:37])
    snapshot = core.state_dict()
    want = run(core, actions[37:])
    fresh = MaMuJoCoCore(3, scenario, conf, seed=123, **kwargs)  # other seed, never reset
    fresh.load_state_dict(snapshot)
    got = run(fresh, actions[37:])
    assert sum(int(r.episode_over.sum()) for r in want) >= 3  # auto-resets continue the copies' RNGs
    for t, (g, w) in enumerate(zip(got, want, strict=True)):
        assert_same_results(g, w, f"step {37 + t}")
    assert sorted(snapshot) == ["mj_state", "over", "returns", "rng", "started", "steps", "xipos", "xpos"]


def test_bad_snapshots_are_rejected_before_anything_changes() -> None:
    core = MaMuJoCoCore(2)
    core.reset()
    good = core.state_dict()
    with pytest.raises(ValueError, match="missing state key 'rng'"):
        core.load_state_dict({k: v for k, v in good.items() if k != "rng"})
    with pytest.raises(ValueError, match=r"state key 'steps' must be int64 of shape \(2,\)"):
        core.load_state_dict(good | {"steps": np.zeros(3, dtype=np.int64)})
    with pytest.raises(ValueError, match="unknown state key 'extra'"):
        core.load_state_dict(good | {"extra": np.zeros(2)})
    assert_array_equal(core.state_dict()["mj_state"], good["mj_state"])


# ------------------------------------------------------------------------------------- worker processes
def test_subprocess_core_equals_the_in_process_core() -> None:
    """5 copies over 2 workers (3 + 2), through auto-resets, snapshots and a reseed: the same numbers."""
    kwargs: dict[str, Any] = {"max_steps": 25, "seed": 4}
    local = make_vector_env("hopper_3x1", 5, **kwargs)
    remote = make_vector_env("hopper_3x1", 5, num_workers=2, **kwargs)
    try:
        assert isinstance(remote, SubprocessVectorCore) and remote.sizes == (3, 2)
        for name in ("env_id", "n_agents", "agent_ids", "obs_dim", "n_actions", "max_steps"):
            assert getattr(remote, name) == getattr(local, name)
        assert_array_equal(remote.action_spec.low, local.action_spec.low)
        assert_array_equal(remote.reset(), local.reset())
        actions = random_actions(local, 90, seed=6)
        for t, a in enumerate(actions[:60]):
            assert_same_results(remote.step(a), local.step(a), f"step {t}")
        snap = local.state_dict()
        remote_snap = remote.state_dict()
        assert snap.keys() == remote_snap.keys()
        for key in snap:
            assert_array_equal(remote_snap[key], snap[key], err_msg=key)
        want = [local.step(a) for a in actions[60:]]
        remote.load_state_dict(snap)  # rewind the workers to the in-process core's snapshot
        for t, (a, w) in enumerate(zip(actions[60:], want, strict=True)):
            assert_same_results(remote.step(a), w, f"restored step {t}")
        assert_array_equal(remote.reset(seed=9), local.reset(seed=9))
        bad = actions[0].copy()
        bad[4, 2, 0] = np.nan  # copy 4 lives in worker 1, where it is copy 1
        with pytest.raises(ValueError, match=r"^invalid action nan for env copy 4, agent_2 \(entry 0\)"):
            remote.step(bad)
        with pytest.raises(ValueError, match=r"actions must have num_envs=5 rows"):
            remote.step(actions[0][:4])
    finally:
        remote.close()
    assert remote.closed
    remote.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        remote.reset()


def test_worker_build_errors_and_dead_workers() -> None:
    with pytest.raises(ValueError, match=r"^unknown agent_conf '9x9' for Hopper"):
        SubprocessVectorCore(MaMuJoCoCore, 2, 2, scenario="Hopper", agent_conf="9x9")
    core = SubprocessVectorCore(MaMuJoCoCore, 2, 2)
    try:
        core.reset()
        pid = core._procs[1].pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(RuntimeError, match=r"env worker 1 \(pid \d+, copies 1\.\.1\) died"):
            core.step(np.zeros((2, 3, 1)))
    finally:
        core.close()
    dropped = SubprocessVectorCore(MaMuJoCoCore, 1, 1)
    procs = list(dropped._procs)
    del dropped
    gc.collect()
    assert not any(proc.is_alive() for proc in procs)  # closed on garbage collection


# ----------------------------------------------------------------------------------------------- PettingZoo
def test_parallel_api_of_make_env() -> None:
    env = make_env("hopper_3x1")
    parallel_api_test(env, num_cycles=300)
    box = env.action_space("agent_1")
    assert box.shape == (1,) and box.low.tolist() == [-1.0] and box.high.tolist() == [1.0]
    assert env.observation_space("agent_1").shape == (11,)
    uneven = make_env("mamujoco", scenario="Pusher", agent_conf="3p", observation="local")
    parallel_api_test(uneven, num_cycles=60)
    assert [uneven.action_space(a).shape for a in uneven.possible_agents] == [(3,), (1,), (3,)]
    assert [uneven.observation_space(a).shape for a in uneven.possible_agents] == [(16,), (13,), (16,)]
    with pytest.raises(ValueError, match=r"make_env sets \['num_workers'\] itself"):
        make_env("hopper_3x1", num_workers=2)


def test_parallel_env_follows_the_core() -> None:
    env = make_env("ant_4x2")
    core = MaMuJoCoCore(1, "Ant", "4x2")
    obs, _ = env.reset(seed=3)
    assert_array_equal(np.stack(list(obs.values())), core.reset(seed=3)[0])
    for actions in random_actions(core, 20, seed=1):
        obs, rewards, *_ = env.step({a: actions[0, i] for i, a in enumerate(env.possible_agents)})
        res = core.step(actions)
        assert_array_equal(np.stack(list(obs.values())), res.obs[0])
        assert np.float32(rewards["agent_0"]) == res.rewards[0, 0]


def test_local_collector_collects_continuous_actions() -> None:
    collector = LocalCollector("hopper_3x1", 2, seed=1)
    rng = np.random.default_rng(0)

    def act(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        e, a = obs.shape[:2]
        return rng.normal(size=(e, a, 1)).astype(np.float32), np.zeros((e, a)), np.zeros((e, a))

    batch = collector.collect(act, 30)
    assert batch.actions.shape == (30, 2, 3, 1) and batch.obs.shape == (30, 2, 3, 11)
    assert np.isfinite(batch.rewards).all()
