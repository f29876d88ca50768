"""The step envelope of `BatchedCore` on a toy game: time limit, returns, auto-reset, seeds, `StepResult`
assembly and snapshot checks; and every built-in core goes through it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from numpy.typing import NDArray

from matrl.envs import BatchedCore, GameStep, make_vector_env
from matrl.envs import registry as env_registry
from matrl.envs.spec import ActionSpec


class Counter(BatchedCore):
    """Each copy holds a counter; action a adds a and rewards agent i with ``a_i * (i + 1)``. The game ends a
    copy's episode when its counter reaches ``goal`` (terminated); agent 1 alone is truncated by the game
    once the counter passes ``cut``. ``reset`` starts the counter at ``seed + k`` (0 without a seed). A
    computed snapshot key (``total``) stands for state kept outside arrays."""

    env_id = "counter"
    _computed_state_keys: ClassVar[tuple[str, ...]] = ("total",)

    def __init__(
        self,
        num_envs: int,
        *,
        max_steps: int | None = 5,
        goal: int = 6,
        cut: int | None = None,
        autoreset: bool = True,
        reward_dtype: Any = np.float32,
        seed: int = 0,
        with_done: bool = False,
    ) -> None:
        super().__init__(num_envs, max_steps=max_steps, autoreset=autoreset, reward_dtype=reward_dtype)
        self.seed, self.goal, self.cut, self.with_done = seed, goal, cut, with_done
        self.n_agents, self.n_actions, self.obs_dim = 2, 3, 1
        self.agent_ids = ("a", "b")
        self.action_spec = ActionSpec.discrete(3)
        self.allowed_actions = "0, 1, 2"
        self._allocate_envelope()
        self._count = np.zeros(num_envs, dtype=np.int64)
        self.resets: list[tuple[list[int], int | None]] = []

    def _step_copies(self, actions: NDArray[np.intp]) -> GameStep:
        self._count += actions.sum(axis=1)
        rewards = actions * np.array([1.0, 2.0])  # float64: the envelope casts
        over = self._count >= self.goal
        if self.cut is None and not self.with_done:
            return GameStep.team(rewards, over, {"count": self._count.copy()})
        truncated = np.zeros((self.num_envs, 2), dtype=np.bool_)
        if self.cut is not None:
            truncated[:, 1] = self._count > self.cut
        terminated = np.repeat(over[:, None], 2, axis=1)
        done = terminated | truncated if self.with_done else None
        return GameStep(rewards, terminated, over, {}, truncated=truncated, done=done)

    def _reset_copies(self, rows: NDArray[np.intp], seed: int | None) -> None:
        self.resets.append((rows.tolist(), seed))
        self._count[rows] = 0 if seed is None else seed + rows

    def _observation(self, rows: NDArray[np.intp] | None = None) -> NDArray[np.float32]:
        count = self._count if rows is None else self._count[rows]
        return np.repeat(count.astype(np.float32)[:, None, None], 2, axis=1)

    def _state_layout(self) -> dict[str, NDArray[Any]]:
        return {"count": self._count, **self._envelope_state(), "total": np.zeros(1, dtype=np.int64)}

    def _save_game_state(self, state: dict[str, NDArray[Any]]) -> None:
        state["total"][0] = self._count.sum()

    def _load_game_state(self, values: Mapping[str, NDArray[Any]]) -> None:
        if values["total"][0] != values["count"].sum():
            raise ValueError("total does not match count")


def test_time_limit_truncates_and_auto_resets_only_the_ended_copies() -> None:
    core = Counter(2, max_steps=3, goal=100)
    assert_array_equal(core.reset()[:, :, 0], [[0, 0], [1, 1]])  # copy k starts at seed + k
    for t in (1, 2):
        res = core.step([[1, 0], [2, 0]])
        assert not res.episode_over.any() and res.obs is res.final_obs
        assert_array_equal(res.episode_length, [t, t])
    res = core.step([[1, 0], [2, 0]])
    assert_array_equal(res.episode_over, [True, True])
    assert res.truncated.all() and not res.terminated.any()
    assert_array_equal(res.final_obs[:, 0, 0], [3, 7])  # before the reset ...
    assert_array_equal(res.obs[:, 0, 0], [0, 0])  # ... and after it
    assert_array_equal(res.episode_length, [3, 3])
    assert_array_equal(res.done, res.terminated)  # games without a done list: the time limit is not in it
    assert core.step([[0, 0], [0, 0]]).episode_length.tolist() == [1, 1]


def test_game_end_terminates_one_copy_and_returns_restart_with_it() -> None:
    core = Counter(2, max_steps=None, goal=4)
    core.reset()
    res = core.step([[2, 1], [0, 1]])
    assert_array_equal(res.episode_return, [[2.0, 2.0], [0.0, 2.0]])
    assert res.rewards.dtype == np.float32 and res.episode_return.dtype == np.float64
    res = core.step([[1, 0], [0, 1]])
    assert_array_equal(res.episode_over, [True, False])
    assert_array_equal(res.terminated, [[True, True], [False, False]])
    assert not res.truncated.any()
    assert_array_equal(res.episode_return, [[3.0, 2.0], [0.0, 4.0]])  # final return of copy 0
    assert_array_equal(res.obs[:, 0, 0], [0, 3]) and res.obs is not res.final_obs
    assert core.resets[-1] == ([0], None)  # auto-resets pass no seed
    res = core.step([[0, 0], [0, 0]])
    assert_array_equal(res.episode_return, [[0.0, 0.0], [0.0, 4.0]])
    assert_array_equal(res.episode_length, [1, 3])


def test_game_truncation_and_done_list_get_the_time_limit_added() -> None:
    core = Counter(1, max_steps=2, goal=100, cut=1, with_done=True)
    core.reset()
    res = core.step([[1, 1]])  # count 2 > cut: agent b truncated by the game, the episode goes on
    assert_array_equal(res.truncated, [[False, True]]) and not res.episode_over.any()
    assert_array_equal(res.done, [[False, True]])
    res = core.step([[0, 0]])  # the time limit: everyone truncated, and done
    assert res.episode_over.all() and res.truncated.all() and res.done.all()


def test_seeds_first_reset_uses_the_constructors_later_ones_continue() -> None:
    core = Counter(3, seed=10)
    assert_array_equal(core.reset()[:, 0, 0], [10, 11, 12])
    assert_array_equal(core.reset()[:, 0, 0], [0, 0, 0])  # seedless: no new seed
    assert_array_equal(core.reset(seed=4)[:, 0, 0], [4, 5, 6])
    assert [seed for _, seed in core.resets] == [10, None, 4]


def test_step_before_reset_and_over_episodes_without_autoreset_are_refused() -> None:
    core = Counter(3, max_steps=1, autoreset=False)
    with pytest.raises(ValueError, match=r"call reset\(\) before step\(\)"):
        core.step(np.zeros((3, 2), dtype=np.int64))
    core.reset()
    core.copy_offset = 4  # a shard of a larger batch names the copies by their index in it
    res = core.step(np.zeros((3, 2), dtype=np.int64))
    assert res.episode_over.all() and res.obs is res.final_obs
    with pytest.raises(ValueError, match=r"episode is over in env copies \[4, 5, 6\] \(autoreset=False\)"):
        core.step(np.zeros((3, 2), dtype=np.int64))
    core.reset()
    core.step(np.zeros((3, 2), dtype=np.int64))


def test_common_arguments_and_actions_are_checked_in_one_line() -> None:
    with pytest.raises(ValueError, match="num_envs must be >= 1, got 0"):
        Counter(0)
    with pytest.raises(ValueError, match="max_steps must be >= 1, got 0"):
        Counter(1, max_steps=0)
    with pytest.raises(ValueError, match="reward_dtype must be a float dtype, got int64"):
        Counter(1, reward_dtype=np.int64)
    core = Counter(2)
    core.reset()
    with pytest.raises(ValueError, match=r"invalid action 3 for env 1, b; allowed: 0, 1, 2"):
        core.step([[0, 0], [0, 3]])
    with pytest.raises(ValueError, match=r"actions must have shape \(2, 2\)"):
        core.step([[0, 0]])


def test_snapshots_round_trip_and_bad_ones_change_nothing() -> None:
    core = Counter(2, goal=100)
    core.reset()
    core.step([[1, 2], [2, 2]])
    state = core.state_dict()
    assert list(state) == ["count", "steps", "returns", "over", "started", "total"]  # the layout's order
    assert state["total"].tolist() == [8]
    after = [core.step([[1, 1], [0, 1]]) for _ in range(2)]
    fresh = Counter(2, goal=100)
    fresh.load_state_dict(state)
    again = [fresh.step([[1, 1], [0, 1]]) for _ in range(2)]
    for a, b in zip(after, again, strict=True):
        for name in ("obs", "rewards", "episode_return", "episode_length"):
            assert_array_equal(getattr(a, name), getattr(b, name))
    untouched = Counter(2, goal=100)
    before = untouched.state_dict()
    bad_cases: list[tuple[dict[str, Any], str]] = [
        ({**state, "extra": np.zeros(1)}, "unknown state key 'extra' for counter"),
        ({k: v for k, v in state.items() if k != "returns"}, "missing state key 'returns' for counter"),
        ({**state, "steps": state["steps"].astype(np.int32)}, "state key 'steps' must be int64 of shape"),
        ({**state, "total": np.array([99])}, "total does not match count"),
    ]
    for bad, message in bad_cases:
        with pytest.raises(ValueError, match=message):
            untouched.load_state_dict(bad)
        for key, value in untouched.state_dict().items():
            assert_array_equal(value, before[key])


@pytest.mark.parametrize("env_id", env_registry.ENV_IDS)
def test_every_built_in_core_is_a_batched_core_with_the_envelope_in_its_snapshots(env_id: str) -> None:
    core = make_vector_env(env_id, 2)
    try:
        assert isinstance(core, BatchedCore)
        core.reset()
        res = core.step(np.zeros((2, core.n_agents, *core.action_spec.action_shape), dtype=np.int64))
        assert_array_equal(res.episode_length, [1, 1])
        assert {"steps", "returns", "over"} <= set(core.state_dict())
    finally:
        core.close()
