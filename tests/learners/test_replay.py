"""Transition replay: ring wrap-around, learner layout of samples, seeded sampling, resume, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from matrl.learners.replay import TransitionReplay

A, OBS, STATE = 2, 3, 4


def _transitions(ids: list[int]) -> dict[str, np.ndarray]:
    """E transitions in the collector layout (E, A, ...); every field encodes the transition id (and agent),
    so a sample can be checked for fields coming from one and the same transition."""
    ids_arr = np.asarray(ids)
    agent = np.arange(A)
    tag = ids_arr[:, None] * 10 + agent[None, :]  # (E, A)
    return {
        "obs": np.repeat(tag[..., None], OBS, axis=-1).astype(np.float32),
        "actions": tag.astype(np.int64),
        "rewards": (tag + 0.5).astype(np.float32),
        "next_obs": np.repeat(tag[..., None] + 1000, OBS, axis=-1).astype(np.float32),
        "terminated": ids_arr % 2 == 1,
        "state": np.repeat(ids_arr[:, None], STATE, axis=-1).astype(np.float32),
        "next_state": np.repeat(ids_arr[:, None] + 1000, STATE, axis=-1).astype(np.float32),
    }


def _stored_ids(buffer: TransitionReplay) -> set[int]:
    obs = buffer.state_dict()["obs"]  # (A, len, obs_dim)
    return {int(v) // 10 for v in obs[0, :, 0]}


def test_ring_keeps_the_newest_capacity_transitions() -> None:
    buffer = TransitionReplay(capacity=4, n_agents=A, obs_dim=OBS, state_dim=STATE)
    assert len(buffer) == 0
    buffer.add_batch(**_transitions([0, 1, 2]))
    assert len(buffer) == 3 and _stored_ids(buffer) == {0, 1, 2}
    buffer.add_batch(**_transitions([3, 4, 5]))
    assert len(buffer) == 4 and _stored_ids(buffer) == {2, 3, 4, 5}
    # More than capacity at once: only the newest four survive, as if added one by one.
    one_by_one = TransitionReplay(capacity=4, n_agents=A, obs_dim=OBS, state_dim=STATE)
    at_once = TransitionReplay(capacity=4, n_agents=A, obs_dim=OBS, state_dim=STATE)
    for i in range(7):
        one_by_one.add_batch(**_transitions([i]))
    at_once.add_batch(**_transitions(list(range(7))))
    assert _stored_ids(at_once) == {3, 4, 5, 6}
    for key, value in one_by_one.state_dict().items():
        np.testing.assert_array_equal(at_once.state_dict()[key], value)
    # An empty batch is a no-op.
    at_once.add_batch(**_transitions([]))
    assert len(at_once) == 4


def test_sample_layout_shapes_dtypes_and_consistency() -> None:
    buffer = TransitionReplay(capacity=8, n_agents=A, obs_dim=OBS, state_dim=STATE)
    buffer.add_batch(**_transitions(list(range(7))))
    sample = buffer.sample(6, np.random.default_rng(0))
    assert sample.obs.shape == (A, 6, OBS) and sample.obs.dtype == torch.float32
    assert sample.next_obs.shape == (A, 6, OBS) and sample.next_obs.dtype == torch.float32
    assert sample.actions.shape == (A, 6) and sample.actions.dtype == torch.int64
    assert sample.rewards.shape == (A, 6) and sample.rewards.dtype == torch.float32
    assert sample.terminated.shape == (6,) and sample.terminated.dtype == torch.bool
    assert sample.state is not None and sample.next_state is not None
    assert sample.state.shape == (6, STATE) and sample.next_state.shape == (6, STATE)
    # Every field of column b comes from the same transition, and row a from agent a.
    ids = sample.state[:, 0].long()
    agent = torch.arange(A)[:, None]
    tag = ids[None, :] * 10 + agent
    torch.testing.assert_close(sample.actions, tag)
    torch.testing.assert_close(sample.obs[..., 0], tag.float())
    torch.testing.assert_close(sample.rewards, tag.float() + 0.5)
    torch.testing.assert_close(sample.next_obs[..., 2], tag.float() + 1000)
    torch.testing.assert_close(sample.terminated, ids % 2 == 1)
    torch.testing.assert_close(sample.next_state[:, 3], ids.float() + 1000)


def test_stateless_buffer_and_continuous_actions() -> None:
    buffer = TransitionReplay(capacity=3, n_agents=A, obs_dim=OBS, action_shape=(2,), action_dtype=np.float32)
    batch: dict[str, Any] = _transitions([0, 1])
    del batch["state"], batch["next_state"]
    batch["actions"] = np.ones((2, A, 2), dtype=np.float32)
    buffer.add_batch(**batch)
    sample = buffer.sample(2, np.random.default_rng(1))
    assert sample.state is None and sample.next_state is None
    assert sample.actions.shape == (A, 2, 2) and sample.actions.dtype == torch.float32


def test_seeded_sampling_is_reproducible() -> None:
    buffer = TransitionReplay(capacity=16, n_agents=A, obs_dim=OBS, state_dim=STATE)
    buffer.add_batch(**_transitions(list(range(16))))
    first = buffer.sample(16, np.random.default_rng(123))
    second = buffer.sample(16, np.random.default_rng(123))
    for name in ("obs", "actions", "rewards", "next_obs", "terminated", "state", "next_state"):
        assert torch.equal(getattr(first, name), getattr(second, name))
    other = buffer.sample(16, np.random.default_rng(124))
    assert not torch.equal(first.actions, other.actions)


def test_state_dict_round_trip_resumes_bit_identically() -> None:
    original = TransitionReplay(capacity=5, n_agents=A, obs_dim=OBS, state_dim=STATE)
    original.add_batch(**_transitions(list(range(7))))  # wrapped: next slot is 2
    restored = TransitionReplay(capacity=5, n_agents=A, obs_dim=OBS, state_dim=STATE)
    restored.add_batch(**_transitions([99]))  # stale content must be replaced
    restored.load_state_dict(original.state_dict())
    assert len(restored) == len(original) == 5
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    for _ in range(3):
        a, b = original.sample(4, rng_a), restored.sample(4, rng_b)
        assert a.state is not None and b.state is not None
        assert torch.equal(a.obs, b.obs) and torch.equal(a.state, b.state)
    # Both continue identically: the cursor travelled too.
    original.add_batch(**_transitions([7, 8]))
    restored.add_batch(**_transitions([7, 8]))
    for key, value in original.state_dict().items():
        np.testing.assert_array_equal(restored.state_dict()[key], value)
    assert _stored_ids(restored) == {4, 5, 6, 7, 8}
    # A partly filled buffer round-trips too.
    partial = TransitionReplay(capacity=5, n_agents=A, obs_dim=OBS, state_dim=STATE)
    partial.add_batch(**_transitions([0, 1]))
    fresh = TransitionReplay(capacity=5, n_agents=A, obs_dim=OBS, state_dim=STATE)
    fresh.load_state_dict(partial.state_dict())
    fresh.add_batch(**_transitions([2]))
    partial.add_batch(**_transitions([2]))
    for key, value in partial.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value)


def test_errors() -> None:
    with pytest.raises(ValueError, match="capacity"):
        TransitionReplay(capacity=0, n_agents=A, obs_dim=OBS)
    buffer = TransitionReplay(capacity=4, n_agents=A, obs_dim=OBS, state_dim=STATE)
    with pytest.raises(ValueError, match="only 0 stored"):
        buffer.sample(1, np.random.default_rng(0))
    bad = _transitions([0, 1])
    bad["obs"] = bad["obs"][:, :, :2]
    with pytest.raises(ValueError, match="obs has shape"):
        buffer.add_batch(**bad)
    bad = _transitions([0, 1])
    bad["rewards"] = bad["rewards"][:1]
    with pytest.raises(ValueError, match="rewards has shape"):
        buffer.add_batch(**bad)
    no_state = _transitions([0])
    del no_state["state"], no_state["next_state"]
    with pytest.raises(ValueError, match="state_dim"):
        buffer.add_batch(**no_state)
    buffer.add_batch(**_transitions([0, 1]))
    with pytest.raises(ValueError, match="cannot sample 3"):
        buffer.sample(3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch_size"):
        buffer.sample(0, np.random.default_rng(0))
    other = TransitionReplay(capacity=4, n_agents=A, obs_dim=OBS)  # no state arrays
    with pytest.raises(ValueError, match="keys"):
        other.load_state_dict(buffer.state_dict())
    wrong_capacity = TransitionReplay(capacity=1, n_agents=A, obs_dim=OBS, state_dim=STATE)
    with pytest.raises(ValueError, match="cursor"):
        wrong_capacity.load_state_dict(buffer.state_dict())
