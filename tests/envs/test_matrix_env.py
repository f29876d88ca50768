"""matrix_v0: the repeated normal-form game as a batched core and as a PettingZoo ParallelEnv."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces
from numpy.testing import assert_array_equal
from pettingzoo.test import parallel_api_test

from matrl.envs import MatrixGameCore, make_env, make_vector_env
from matrl.envs.render import record_episode
from matrl.matrixgames.games import NAMED_GAMES, named_game

RNG_PAYOFFS = np.random.default_rng(5).normal(size=(3, 3, 3, 3))  # 3 players, 3 actions each


def test_every_joint_action_pays_its_entry() -> None:
    stag = named_game("stag_hunt")
    joints = list(itertools.product(range(2), repeat=2))
    core = make_vector_env("matrix_v0", len(joints))
    assert isinstance(core, MatrixGameCore)
    assert (core.n_agents, core.n_actions, core.obs_dim) == (2, 2, 1)
    assert_array_equal(core.payoffs, stag)
    obs = core.reset()
    assert obs.dtype == np.float32 and obs.shape == (4, 2, 1) and (obs == 1.0).all()
    res = core.step(np.array(joints))
    assert res.rewards.dtype == np.float32
    for e, (a0, a1) in enumerate(joints):
        assert res.rewards[e].tolist() == [stag[0, a0, a1], stag[1, a0, a1]]
    # Stag hunt: both hunting the stag (action 0) pays 4 each, hunting the stag alone pays 1.
    assert res.rewards[0].tolist() == [4.0, 4.0] and res.rewards[1].tolist() == [1.0, 3.0]


def test_three_players_three_actions() -> None:
    core = make_vector_env("matrix_v0", 8, payoffs=RNG_PAYOFFS, reward_dtype=np.float64, episode_length=50)
    assert (core.n_agents, core.n_actions) == (3, 3)
    core.reset()
    rng = np.random.default_rng(0)
    total = np.zeros((8, 3))
    for _ in range(20):
        acts = rng.integers(0, 3, size=(8, 3))
        res = core.step(acts)
        want = np.array([[RNG_PAYOFFS[(i, *acts[e])] for i in range(3)] for e in range(8)])
        assert_array_equal(res.rewards, want)  # float64: exactly the entries
        total += want
        assert_array_equal(res.episode_return, total)


def test_episode_is_truncated_after_episode_length() -> None:
    core = make_vector_env("matrix_v0", 2, game="prisoners_dilemma", episode_length=3)
    core.reset()
    for t in range(1, 7):
        res = core.step([[0, 1], [1, 1]])
        last = t % 3 == 0
        assert res.truncated.tolist() == [[last] * 2] * 2
        assert not res.terminated.any()
        assert res.episode_over.tolist() == [last, last]
        assert res.done.tolist() == [[last] * 2] * 2
        assert res.episode_length.tolist() == [3 if last else t % 3] * 2
        # PD: (cooperate, defect) pays (1, 4), mutual defection (2, 2).
        k = 3 if last else t % 3
        assert res.episode_return.tolist() == [[1.0 * k, 4.0 * k], [2.0 * k, 2.0 * k]]
        assert (res.obs == 1.0).all() and (res.final_obs == 1.0).all()
        assert dict(res.info) == {}


def test_terminate_at_end_makes_a_finite_game() -> None:
    core = make_vector_env("matrix_v0", 1, episode_length=2, terminate_at_end=True)
    core.reset()
    first, second = core.step([[0, 0]]), core.step([[0, 0]])
    assert not first.episode_over.any() and not first.terminated.any()
    assert second.terminated.all() and not second.truncated.any() and second.episode_over.all()
    assert second.episode_return.tolist() == [[8.0, 8.0]]
    third = core.step([[1, 1]])  # auto-reset: a new episode
    assert third.episode_length.tolist() == [1] and third.episode_return.tolist() == [[2.0, 2.0]]


def test_named_games_and_explicit_payoffs() -> None:
    for name in NAMED_GAMES:
        assert_array_equal(make_vector_env("matrix_v0", 1, game=name).payoffs, named_game(name))
    explicit = make_vector_env("matrix_v0", 1, payoffs=[[[1, 2], [3, 4]], [[5, 6], [7, 8]]])
    assert explicit.payoffs.dtype == np.float64 and explicit.payoffs[1, 1, 0] == 7.0
    mine = np.ones((1, 4))
    core = MatrixGameCore(1, mine)  # a one-player game (a bandit) is fine too
    mine[0, 0] = 99.0  # the core keeps its own copy
    assert core.payoffs[0, 0] == 1.0 and not core.payoffs.flags.writeable


@pytest.mark.parametrize(
    ("payoffs", "match"),
    [
        (np.zeros((2, 2, 3)), r"same K >= 1 actions, got shape \(2, 2, 3\)"),
        (np.zeros((3, 2, 2)), r"one K axis per player \(n = ndim - 1\), got shape \(3, 2, 2\)"),
        (np.zeros(2), r"got shape \(2,\)"),
        (np.zeros((2, 0, 0)), r"same K >= 1 actions"),
        (np.array([[[1.0, np.nan], [0, 0]], [[0, 0], [0, 0]]]), r"finite"),
        (np.array([["a", "b"]]), r"real numeric array, got dtype <U1"),
    ],
)
def test_payoff_validation(payoffs: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MatrixGameCore(1, payoffs)
    with pytest.raises(ValueError, match=match):
        make_env("matrix_v0", payoffs=payoffs)


def test_registry_errors() -> None:
    allowed = ", ".join(NAMED_GAMES)
    with pytest.raises(ValueError, match=rf"^unknown game 'stag'; allowed: {allowed}$"):
        make_vector_env("matrix_v0", 2, game="stag")
    with pytest.raises(ValueError, match=r"pass either game='chicken' or payoffs=\.\.\., not both"):
        make_env("matrix_v0", game="chicken", payoffs=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"episode_length must be >= 1, got 0"):
        make_vector_env("matrix_v0", 2, episode_length=0)
    with pytest.raises(TypeError):
        make_vector_env("matrix_v0", 2, max_steps=5)  # the matrix game calls it episode_length
    core = make_vector_env("matrix_v0", 2)
    core.reset()
    with pytest.raises(ValueError, match=r"invalid action 2 for env 1, agent_0; allowed: integers 0\.\.1"):
        core.step([[0, 1], [2, 0]])


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"game": "matching_pennies", "episode_length": 5}, {"payoffs": RNG_PAYOFFS, "episode_length": 3}],
)
def test_parallel_api(kwargs: dict[str, Any]) -> None:
    env = make_env("matrix_v0", **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=50)


def test_parallel_env_spaces_rewards_and_episode_end() -> None:
    env = make_env("matrix_v0", payoffs=RNG_PAYOFFS, episode_length=2)
    assert env.possible_agents == ["agent_0", "agent_1", "agent_2"]
    assert env.metadata["name"] == "matrix_v0" and env.metadata["render_modes"] == []
    for agent in env.possible_agents:
        assert env.action_space(agent) == spaces.Discrete(3)
        box = env.observation_space(agent)
        assert isinstance(box, spaces.Box) and box.shape == (1,) and box.dtype == np.float32
    obs, infos = env.reset(seed=0)
    assert all(o.tolist() == [1.0] for o in obs.values()) and set(infos) == set(env.agents)
    acts = {"agent_0": 2, "agent_1": 0, "agent_2": 1}
    _, rew, term, trunc, _ = env.step(acts)
    assert rew == {f"agent_{i}": float(RNG_PAYOFFS[i, 2, 0, 1]) for i in range(3)}  # exact, Python floats
    assert not any(term.values()) and not any(trunc.values()) and env.agents
    _, _, term, trunc, infos = env.step(acts)
    assert all(trunc.values()) and not any(term.values()) and env.agents == []
    assert all(info["done"] for info in infos.values())
    with pytest.raises(ValueError, match=r"invalid action 3 for agent_0; allowed: integers 0\.\.2"):
        env.reset()
        env.step({"agent_0": 3, "agent_1": 0, "agent_2": 0})


def test_no_frames(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unsupported render_mode 'rgb_array'; allowed: None$"):
        make_env("matrix_v0", render_mode="rgb_array")
    with pytest.raises(ValueError, match=r"no frames for env id 'matrix_v0': it draws no rgb_array frames"):
        record_episode("matrix_v0", tmp_path / "m.gif")
    env = make_env("matrix_v0")
    env.reset()
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None
