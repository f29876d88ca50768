"""ParallelEnvVectorCore: any PettingZoo ParallelEnv behind the batched-core interface."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces
from numpy.testing import assert_array_equal
from pettingzoo import ParallelEnv

from matrl.envs import ParallelEnvVectorCore, make_env, make_vector_env

SNAKE = [1] * 6 + [0] + [3] * 5 + [0] + [1] * 5  # Checkers: agent 0 eats every apple, terminating at step 18
COMPARED = ("obs", "final_obs", "terminated", "truncated", "episode_over", "episode_return", "episode_length")


def compare_with_core(env_id: str, actions: np.ndarray, **kwargs: Any) -> list[Any]:
    """Step the adapter over make_env copies and the numpy core side by side; return the core's results."""
    num_envs = actions.shape[1]
    core = make_vector_env(env_id, num_envs, **kwargs)
    adapter = ParallelEnvVectorCore([partial(make_env, env_id, **kwargs)] * num_envs, seed=3)
    assert (adapter.num_envs, adapter.n_agents, adapter.obs_dim, adapter.n_actions) == (
        core.num_envs,
        core.n_agents,
        core.obs_dim,
        core.n_actions,
    )
    assert adapter.agent_ids == core.agent_ids and adapter.env_id == env_id
    assert_array_equal(adapter.reset(), core.reset())
    results = []
    for t, a in enumerate(actions):
        got, want = adapter.step(a), core.step(a)
        assert got.rewards.dtype == np.float32
        assert_array_equal(got.rewards, want.rewards, err_msg=f"rewards at step {t}")
        for name in COMPARED:
            g, w = getattr(got, name), getattr(want, name)
            assert g.dtype == w.dtype, name
            assert_array_equal(g, w, err_msg=f"{name} at step {t}")
        assert got.info["active"].all()  # these envs keep every agent until the episode ends
        results.append(want)
    return results


def test_checkers_copies_match_the_core() -> None:
    rng = np.random.default_rng(0)
    steps, num_envs = 260, 4
    actions = rng.integers(0, 5, size=(steps, num_envs, 2))
    actions[:18, 1, 0] = SNAKE  # copy 1 terminates at step 18 ...
    actions[:18, 1, 1] = 4
    actions[30:48, 2, 0] = SNAKE  # ... copy 2 in its second episode, after a truncated 30-step one
    actions[30:48, 2, 1] = 4
    want = compare_with_core("checkers_v0", actions, max_steps=30)
    assert any(r.terminated.any() for r in want) and any(r.truncated.any() for r in want)
    assert want[17].terminated[1].all() and want[17].episode_length[1] == 18
    assert want[29].truncated[2].all() and want[47].terminated[2].all() and want[47].episode_length[2] == 18


def test_switch_copies_match_the_core() -> None:
    rng = np.random.default_rng(1)
    p = {0: [0.15, 0.1, 0.15, 0.45, 0.15], 1: [0.15, 0.45, 0.15, 0.1, 0.15]}
    actions = np.stack([rng.choice(5, size=(300, 3), p=p[i]) for i in range(2)], axis=-1)
    want = compare_with_core("switch2_v0", actions, phantom_blockers=False)
    assert any(r.terminated.any() for r in want)  # arrivals end some episodes


def test_matrix_copies_match_the_core() -> None:
    actions = np.random.default_rng(2).integers(0, 2, size=(40, 5, 2))
    want = compare_with_core("matrix_v0", actions, game="chicken", episode_length=3)
    assert sum(int(r.episode_over.sum()) for r in want) == 5 * 13


class Toy(ParallelEnv[str, np.ndarray, int]):
    """agent "b" leaves (terminated) after step 1, "a" plays on until the time limit at step 3.

    Observations are (2, 2) boxes holding the step count (a 2-D space, flattened by the adapter); rewards
    are 1 + the action. Records the seeds it was reset with.
    """

    metadata: dict[str, Any] = {"name": "toy"}  # noqa: RUF012 - PettingZoo's attribute

    def __init__(self, action_n: int = 3, obs_shape: tuple[int, ...] = (2, 2)) -> None:
        self.possible_agents = ["a", "b"]
        self.agents: list[str] = []
        self._act = {a: spaces.Discrete(action_n) for a in self.possible_agents}
        self._obs = {
            a: spaces.Box(0.0, 10.0, shape=obs_shape, dtype=np.float32) for a in self.possible_agents
        }
        self.seeds: list[int | None] = []
        self.t = 0

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        return self._obs[agent]

    def action_space(self, agent: str) -> spaces.Space[Any]:
        return self._act[agent]

    def _ob(self, agent: str) -> np.ndarray:
        return np.full((2, 2), self.t + (10 if agent == "b" else 0), dtype=np.float32) / 10

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, Any]:
        self.seeds.append(seed)
        self.t = 0
        self.agents = list(self.possible_agents)
        return {a: self._ob(a) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]) -> tuple[Any, ...]:
        assert set(actions) == set(self.agents)
        self.t += 1
        obs = {a: self._ob(a) for a in self.agents}
        rew = {a: 1.0 + actions[a] for a in self.agents}
        term = {a: a == "b" and self.t == 1 for a in self.agents}
        trunc = {a: self.t == 3 for a in self.agents}
        self.agents = [a for a in self.agents if not (term[a] or trunc[a])]
        return obs, rew, term, trunc, {a: {} for a in obs}


def test_agents_leaving_early_get_zero_reward_and_their_last_observation() -> None:
    toys: list[Toy] = []

    def fn() -> Toy:
        toys.append(Toy())
        return toys[-1]

    core = ParallelEnvVectorCore([fn, fn], seed=7)
    assert (core.n_agents, core.obs_dim, core.n_actions) == (2, 4, 3)
    obs = core.reset()
    assert obs.shape == (2, 2, 4) and obs[:, 1].tolist() == [[1.0] * 4] * 2
    assert [t.seeds for t in toys] == [[7], [8]]

    r1 = core.step([[2, 0], [0, 1]])
    assert r1.rewards.tolist() == [[3.0, 1.0], [1.0, 2.0]]
    assert r1.terminated.tolist() == [[False, True]] * 2 and not r1.truncated.any()
    assert not r1.episode_over.any() and r1.info["active"].all()
    assert np.allclose(r1.obs[0, 1], 1.1)

    r2 = core.step([[1, 2], [1, 2]])  # "b" is gone: its action is ignored
    assert r2.rewards.tolist() == [[2.0, 0.0], [2.0, 0.0]]
    assert r2.info["active"].tolist() == [[True, False]] * 2
    assert_array_equal(r2.obs[:, 1], r1.obs[:, 1])  # last observation repeated
    assert np.allclose(r2.obs[:, 0], 0.2)
    assert r2.terminated.tolist() == [[False, True]] * 2  # kept until the episode ends

    r3 = core.step([[0, 0], [0, 0]])
    assert r3.episode_over.all()
    assert r3.terminated.tolist() == [[False, True]] * 2 and r3.truncated.tolist() == [[True, False]] * 2
    assert r3.done.all()
    assert r3.episode_length.tolist() == [3, 3]
    assert r3.episode_return.tolist() == [[6.0, 1.0], [4.0, 2.0]]
    assert np.allclose(r3.final_obs[:, 0], 0.3) and np.allclose(r3.final_obs[:, 1], 0.1 + 1.0)
    assert (r3.obs[:, 0] == 0.0).all() and (r3.obs[:, 1] == 1.0).all()  # auto-reset observations
    assert [t.seeds for t in toys] == [[7, None], [8, None]]  # auto-resets are not reseeded

    r4 = core.step([[0, 0], [0, 0]])  # the new episode starts clean
    assert r4.episode_length.tolist() == [1, 1] and r4.episode_return.tolist() == [[1.0, 1.0]] * 2
    assert r4.terminated.tolist() == [[False, True]] * 2 and r4.info["active"].all()
    core.reset(seed=100)
    assert [t.seeds[-1] for t in toys] == [100, 101]
    core.reset()
    assert [t.seeds[-1] for t in toys] == [None, None]  # the constructor's seed is for the first reset only


def test_space_checks_name_the_agent() -> None:
    class Mixed(Toy):
        def __init__(self) -> None:
            super().__init__()
            self._act["b"] = spaces.Discrete(4)

    mixed = ParallelEnvVectorCore([Mixed])  # different action counts: the learner masks the missing ones
    assert (mixed.n_actions, mixed.action_spec.counts) == (4, (3, 4))

    class MultiAct(Toy):
        def __init__(self) -> None:
            super().__init__()
            self._act["a"] = spaces.MultiDiscrete([2, 2])  # type: ignore[assignment]

    with pytest.raises(
        ValueError, match=r"^agent 'a' has action space MultiDiscrete\(\[2 2\]\) \(agent 'a': .*Discrete"
    ):
        ParallelEnvVectorCore([MultiAct])

    class Shifted(Toy):
        def __init__(self) -> None:
            super().__init__()
            self._act["a"] = spaces.Discrete(3, start=1)

    with pytest.raises(
        ValueError, match=r"^agent 'a' has action space Discrete\(3, start=1\) \(agent 'a': .*Discrete\(K\)"
    ):
        ParallelEnvVectorCore([Shifted])

    class WideObs(Toy):
        def __init__(self) -> None:
            super().__init__()
            self._obs["b"] = spaces.Box(0.0, 1.0, shape=(5,), dtype=np.float32)

    wide = ParallelEnvVectorCore([WideObs])  # observations are zero-padded to the largest agent's ...
    assert wide.obs_dim == 5
    with pytest.raises(ValueError, match=r"^agent 'b' observed 4 values, expected 5$"):
        wide.reset()  # ... but must match the agent's own space

    class DictObs(Toy):
        def __init__(self) -> None:
            super().__init__()
            self._obs["a"] = spaces.Dict({"x": spaces.Discrete(2)})  # type: ignore[assignment]

    with pytest.raises(
        ValueError, match=r"^agent 'a' has observation space Dict\(.*; allowed: a Box of rank"
    ):
        ParallelEnvVectorCore([DictObs])

    class Renamed(Toy):
        def __init__(self) -> None:
            super().__init__()
            self.possible_agents = ["a", "c"]

    with pytest.raises(
        ValueError, match=r"^env copy 1 has possible_agents \['a', 'c'\], copy 0 has \['a', 'b'\]$"
    ):
        ParallelEnvVectorCore([Toy, Renamed])
    with pytest.raises(ValueError, match=r"at least one env"):
        ParallelEnvVectorCore([])


def test_actions_state_and_order_errors() -> None:
    core = ParallelEnvVectorCore([Toy, Toy])
    with pytest.raises(ValueError, match=r"call reset\(\) before step\(\)"):
        core.step([[0, 0], [0, 0]])
    core.reset()
    with pytest.raises(ValueError, match=r"invalid action 3 for env 1, b; allowed: integers 0\.\.2"):
        core.step([[0, 0], [0, 3]])
    with pytest.raises(ValueError, match=r"actions must have shape \(2, 2\)"):
        core.step([0, 0])
    with pytest.raises(NotImplementedError, match=r"cannot snapshot arbitrary PettingZoo envs"):
        core.state_dict()
    with pytest.raises(NotImplementedError, match=r"cannot snapshot"):
        core.load_state_dict({})
    core.close()
