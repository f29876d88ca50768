"""The local collector: batch layout, continuation across calls, agreement with stepping the core by hand."""

from __future__ import annotations

import numpy as np
import pytest

from matrl.envs import make_vector_env
from matrl.rollout import Batch, LocalCollector


def _random_actor(seed: int, n_actions: int = 5):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)

    def act(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        actions = rng.integers(0, n_actions, size=obs.shape[:2])
        logp = np.full(obs.shape[:2], -np.log(n_actions), dtype=np.float32)
        return actions, logp, obs[..., 0].astype(np.float32)

    return act


def test_batch_layout_and_episode_bookkeeping() -> None:
    collector = LocalCollector("checkers_v0", num_envs=4)
    batch = collector.collect(_random_actor(0), steps_per_env=120)
    assert isinstance(batch, Batch)
    assert batch.obs.shape == (120, 4, 2, collector.obs_dim)
    assert batch.actions.shape == batch.rewards.shape == (120, 4, 2)
    assert batch.env_steps == 480
    # Checkers episodes last at most 100 steps, so each copy finished at least one.
    assert batch.episode_over.sum(axis=0).min() >= 1
    assert batch.episode_returns.shape == (int(batch.episode_over.sum()), 2)
    assert np.all(batch.episode_lengths <= 100)


def test_collection_matches_stepping_the_core_by_hand_across_calls() -> None:
    collector = LocalCollector("switch4_v0", num_envs=3)
    first = collector.collect(_random_actor(1), steps_per_env=40)
    second = collector.collect(_random_actor(2), steps_per_env=30)

    core = make_vector_env("switch4_v0", 3)
    obs = core.reset()
    for batch in (first, second):
        for t in range(batch.actions.shape[0]):
            np.testing.assert_array_equal(batch.obs[t], obs)
            result = core.step(batch.actions[t])
            np.testing.assert_array_equal(batch.rewards[t], result.rewards)
            np.testing.assert_array_equal(batch.next_obs[t], result.final_obs)
            np.testing.assert_array_equal(batch.episode_over[t], result.episode_over)
            obs = result.obs


def test_same_seed_same_batch() -> None:
    batches = [LocalCollector("checkers_v0", 2).collect(_random_actor(5), 50) for _ in range(2)]
    np.testing.assert_array_equal(batches[0].actions, batches[1].actions)
    np.testing.assert_array_equal(batches[0].rewards, batches[1].rewards)


def test_bad_steps_per_env() -> None:
    with pytest.raises(ValueError, match="steps_per_env"):
        LocalCollector("checkers_v0", 1).collect(_random_actor(0), 0)
