"""Cross-checks over whole random episodes: batched core == ParallelEnv == a literal reference implementation,
and a batch of E copies == E independent single copies."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest
from gw_reference import reference
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from matrl.envs import GRID_ENV_IDS, GridCore, StepResult, make_env, make_vector_env

VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("checkers_v0", {}),
    ("checkers_v0", {"full_observable": True}),
    ("checkers_v0", {"max_steps": 30, "step_cost": -0.05}),
    ("switch2_v0", {}),
    ("switch2_v0", {"phantom_blockers": False, "max_steps": 80}),
    ("switch2_v0", {"full_observable": True, "max_steps": 120}),
    ("switch4_v0", {"max_steps": 120}),
    ("switch4_v0", {"full_observable": True, "step_cost": -0.2, "max_steps": 150}),
]
# Agents 0 and 2 must go right, 1 and 3 left: a right/left bias makes arrivals (and terminations) common.
BIAS = {0: [0.15, 0.1, 0.15, 0.45, 0.15], 1: [0.15, 0.45, 0.15, 0.1, 0.15]}
SNAKE = [1] * 6 + [0] + [3] * 5 + [0] + [1] * 5  # Checkers: agent 0 eats every apple, terminating at step 18


def biased_actions(rng: np.random.Generator, steps: int, n_agents: int) -> np.ndarray:
    cols = [rng.choice(5, size=steps, p=BIAS[i % 2]) for i in range(n_agents)]
    return np.stack(cols, axis=1)


def food_of(res: StepResult, e: int) -> dict[str, int]:
    return {"lemon": int(res.info["lemon_count"][e]), "apple": int(res.info["apple_count"][e])}


@pytest.mark.parametrize(("env_id", "kwargs"), VARIANTS)
def test_core_parallel_and_reference_agree(env_id: str, kwargs: dict[str, Any]) -> None:
    core = make_vector_env(env_id, 1, **kwargs)
    env = make_env(env_id, **kwargs)
    ref = reference(env_id, **kwargs)
    agents = env.possible_agents
    rng = np.random.default_rng(zlib.crc32(repr((env_id, sorted(kwargs.items()))).encode()))
    actions = biased_actions(rng, 400, core.n_agents)
    ref_obs = ref.reset()
    obs, _ = env.reset(seed=3)
    core_obs = core.reset(seed=3)
    episodes, terminations = 0, 0
    for a in actions:
        assert_array_equal(core_obs[0], np.float32(ref_obs))
        assert_array_equal(np.stack([obs[ag] for ag in agents]), np.float32(ref_obs))
        ref_obs, ref_rew, ref_done, ref_info = ref.step(a.tolist())
        res = core.step(a[None])
        obs, rew, term, trunc, infos = env.step(dict(zip(agents, a.tolist(), strict=True)))
        assert [rew[ag] for ag in agents] == ref_rew  # float64: bit-identical to the original
        assert_array_equal(res.rewards[0], np.float32(ref_rew))
        assert_array_equal(res.final_obs[0], np.float32(ref_obs))
        assert res.done[0].tolist() == ref_done == [infos[ag]["done"] for ag in agents]
        if env_id == "checkers_v0":
            assert food_of(res, 0) == ref_info == infos[agents[0]]["food_count"]
        over = all(ref_done)
        assert bool(res.episode_over[0]) == over
        assert [term[ag] for ag in agents] == res.terminated[0].tolist()
        assert [trunc[ag] for ag in agents] == res.truncated[0].tolist()
        assert res.terminated[0].tolist() == [over and _game_end(ref)] * len(agents)
        obs = {ag: obs[ag] for ag in agents}
        core_obs = res.obs
        if over:
            episodes += 1
            terminations += bool(res.terminated[0, 0])
            assert env.agents == []
            ref_obs = ref.reset()
            obs, _ = env.reset()
    assert episodes >= 2
    if env_id.startswith("switch"):
        assert terminations >= 1  # the bias makes some episodes end by everybody arriving


def _game_end(ref: Any) -> bool:
    """Whether the reference episode ended by the game's own condition (not only the clock)."""
    if hasattr(ref, "food"):
        return bool(ref.food["apple"] == 0)
    return all(p == t for p, t in zip(ref.pos, ref.targets, strict=False))


@pytest.mark.parametrize(("env_id", "kwargs"), VARIANTS)
def test_batch_equals_independent_copies(env_id: str, kwargs: dict[str, Any]) -> None:
    num_envs, steps = 5, 300
    batch = make_vector_env(env_id, num_envs, **kwargs)
    singles = [make_vector_env(env_id, 1, **kwargs) for _ in range(num_envs)]
    rng = np.random.default_rng(7)
    actions = np.stack([biased_actions(rng, steps, batch.n_agents) for _ in range(num_envs)], axis=1)
    if env_id == "checkers_v0":
        actions[:, 0, 0] = np.resize(SNAKE, steps)  # copy 0 terminates every 18 steps: copies desynchronise
        actions[:, 0, 1] = 4
    obs = batch.reset(seed=0)
    single_obs = [s.reset(seed=0) for s in singles]
    ends = np.zeros(num_envs, dtype=int)
    for t in range(steps):
        for e in range(num_envs):
            assert_array_equal(obs[e], single_obs[e][0])
        res = batch.step(actions[t])
        for e, s in enumerate(singles):
            r1 = s.step(actions[t, e][None])
            _assert_same(res, e, r1)
            single_obs[e] = r1.obs
        ends += res.episode_over
        obs = res.obs
    assert ends.min() >= 1
    assert len(set(ends.tolist())) > 1  # copies ended episodes at different times: auto-reset per copy


def _assert_same(batch: StepResult, e: int, single: StepResult) -> None:
    for name in ("obs", "rewards", "terminated", "truncated", "final_obs", "done", "episode_return"):
        assert_array_equal(getattr(batch, name)[e], getattr(single, name)[0], err_msg=name)
    assert batch.episode_over[e] == single.episode_over[0]
    assert batch.episode_length[e] == single.episode_length[0]
    assert batch.info.keys() == single.info.keys()
    for key in batch.info:
        assert_array_equal(batch.info[key][e], single.info[key][0], err_msg=key)


def _check_invariants(core: GridCore, res: StepResult) -> None:
    assert res.obs.dtype == np.float32 and res.final_obs.dtype == np.float32
    assert (res.final_obs >= core.obs_low).all() and (res.final_obs <= core.obs_high).all()
    assert not (res.terminated & res.truncated).any()
    assert ((res.terminated | res.truncated).all(axis=1) == res.episode_over).all()


@settings(max_examples=25, deadline=None)
@given(
    env_id=st.sampled_from(GRID_ENV_IDS),
    raw=st.lists(st.lists(st.integers(0, 4), min_size=4, max_size=4), min_size=1, max_size=60),
    max_steps=st.integers(1, 60),
)
def test_arbitrary_action_sequences_match_reference(
    env_id: str, raw: list[list[int]], max_steps: int
) -> None:
    core = make_vector_env(env_id, 1, max_steps=max_steps, reward_dtype=np.float64)
    ref = reference(env_id, max_steps=max_steps)
    ref.reset()
    core.reset()
    for joint in raw:
        a = joint[: core.n_agents]
        ref_obs, ref_rew, ref_done, _ = ref.step(a)
        res = core.step(np.array([a]))
        _check_invariants(core, res)
        assert res.rewards[0].tolist() == ref_rew
        assert_array_equal(res.final_obs[0], np.float32(ref_obs))
        assert res.done[0].tolist() == ref_done
        if all(ref_done):
            ref.reset()
