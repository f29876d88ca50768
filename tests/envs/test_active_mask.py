"""Agents that leave or join an episode: the steps at which an agent did not act reach no part of learning
(advantages, PPO losses, the meta-game estimate, the best response)."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import pytest
import torch
from pz_toys import team

from matrl.algorithm import MATRL
from matrl.config import MetaConfig, PPOConfig, TrainConfig
from matrl.envs import register_env
from matrl.envs import registry as env_registry
from matrl.gametheory.metagame import estimate_meta_game
from matrl.learners.gae import gae
from matrl.learners.update import _accumulate_gradients, agent_losses
from matrl.rollout.base import Batch
from matrl.rollout.local import LocalCollector
from matrl.training import train


@pytest.fixture(autouse=True)
def _registered() -> Any:
    register_env("team_mask", team)
    yield
    env_registry._REGISTERED.pop("team_mask", None)


# a1 terminates after step 2 of every 5-step episode; a2 joins after step 1.
KWARGS: dict[str, Any] = {
    "obs_sizes": [3, 4, 3],
    "actions": [2, 3, 2],
    "max_steps": 5,
    "leave": {"a1": 2},
    "join": {"a2": 1},
}


def test_the_collector_records_who_acted_and_who_terminated() -> None:
    collector = LocalCollector("team_mask", 2, seed=0, **KWARGS)

    def act(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        zeros = np.zeros(obs.shape[:2], dtype=np.float32)
        return np.zeros(obs.shape[:2], dtype=np.int64), zeros, zeros

    batch = collector.collect(act, 7)
    assert batch.active is not None and batch.agent_terminated is not None
    expected = np.array([[1, 1, 0], [1, 1, 1], [1, 0, 1], [1, 0, 1], [1, 0, 1], [1, 1, 0], [1, 1, 1]], bool)
    np.testing.assert_array_equal(batch.active, np.broadcast_to(expected[:, None], (7, 2, 3)))
    terminated = np.zeros((7, 3), bool)
    terminated[1:5, 1] = terminated[6, 1] = True  # a1 terminates at step 2; the flag stays to the episode end
    np.testing.assert_array_equal(batch.agent_terminated, np.broadcast_to(terminated[:, None], (7, 2, 3)))
    assert not batch.terminated.any() and batch.episode_over[4].all()  # the episode is truncated


def test_gae_gives_inactive_steps_nothing_and_ends_a_leaving_agents_recursion() -> None:
    rewards = np.array([[1.0], [2.0], [5.0], [7.0]])[:, None]  # (T=4, E=1, A=1)
    values = np.array([[0.5], [0.25], [9.0], [3.0]])[:, None]
    next_values = np.array([[0.25], [9.0], [3.0], [4.0]])[:, None]
    active = np.array([True, True, False, False])[:, None, None]
    terminal = np.array([False, True, True, True])[:, None, None]
    over = np.array([False, False, False, True])[:, None]
    adv, _ = gae(rewards, values, next_values, terminal, over, 0.9, 0.8, active=active)
    assert adv[2:].tolist() == [[[0.0]], [[0.0]]]
    assert adv[1, 0, 0] == pytest.approx(2.0 - 0.25)  # terminated: no bootstrap, no credit from later steps
    assert adv[0, 0, 0] == pytest.approx(1.0 + 0.9 * 0.25 - 0.5 + 0.9 * 0.8 * (2.0 - 0.25))
    changed = rewards.copy()
    changed[2:] = -100.0
    assert np.array_equal(gae(changed, values, next_values, terminal, over, 0.9, 0.8, active=active)[0], adv)
    # An agent that rejoins: no credit flows back across the gap either.
    active_gap = np.array([True, False, True, True])[:, None, None]
    gap = gae(rewards, values, next_values, np.zeros_like(terminal), over, 0.9, 0.8, active=active_gap)[0]
    assert gap[1, 0, 0] == 0.0 and gap[0, 0, 0] == pytest.approx(1.0 + 0.9 * 0.25 - 0.5)


def test_the_masked_meta_game_equals_the_estimate_on_the_kept_samples() -> None:
    rng = np.random.default_rng(0)
    adv, log_w = rng.normal(size=(3, 40)), rng.normal(scale=0.2, size=(3, 40))
    keep = rng.random(40) < 0.6
    mask = np.broadcast_to(keep, (3, 40))
    masked_adv, masked_w = adv.copy(), log_w.copy()
    masked_adv[:, ~keep], masked_w[:, ~keep] = np.nan, np.inf  # never read
    got = estimate_meta_game(masked_adv, masked_w, 0.2, mask=mask)
    np.testing.assert_allclose(got, estimate_meta_game(adv[:, keep], log_w[:, keep], 0.2), rtol=1e-12)
    # Agent 2 absent from half the samples: there its ratio counts as 1 for the others.
    partial = np.ones((3, 40), bool)
    partial[2, 20:] = False
    w_one = log_w.copy()
    w_one[2, 20:] = 0.0
    got = estimate_meta_game(adv, log_w, None, mask=partial)
    want = estimate_meta_game(adv, w_one, None)
    np.testing.assert_allclose(got[:2], want[:2], rtol=1e-12)  # agents 0 and 1 use every sample
    np.testing.assert_allclose(got[2], estimate_meta_game(adv[:, :20], log_w[:, :20], None)[2], rtol=1e-12)
    with pytest.raises(ValueError, match=r"mask \(3, 5\) must have the shape of advantages \(3, 40\)"):
        estimate_meta_game(adv, log_w, None, mask=np.ones((3, 5), bool))


def _learner(**changes: Any) -> MATRL:
    config = TrainConfig(
        env="team_mask",
        batch_size=40,
        num_envs=4,
        hidden=(16,),
        env_kwargs=KWARGS,
        ppo=PPOConfig(update_iters=3, target_kl=None, **changes),
        meta=MetaConfig(br_iters=2),
    )
    return MATRL(config, LocalCollector("team_mask", 4, seed=0, **KWARGS))


def _scrambled(batch: Batch, seed: int) -> Batch:
    """``batch`` with everything an inactive step holds replaced by noise."""
    assert batch.active is not None
    rng = np.random.default_rng(seed)
    off = ~batch.active
    obs, next_obs, actions, rewards = (
        x.copy() for x in (batch.obs, batch.next_obs, batch.actions, batch.rewards)
    )
    obs[off] = rng.normal(size=obs[off].shape) * 5
    next_obs[off] = rng.normal(size=next_obs[off].shape) * 5
    actions[off] = rng.integers(0, 2, size=actions[off].shape)
    rewards[off] = rng.normal(size=rewards[off].shape) * 10
    return dataclasses.replace(batch, obs=obs, next_obs=next_obs, actions=actions, rewards=rewards)


def _parameters(learner: MATRL) -> list[torch.Tensor]:
    return [p.detach().clone() for p in learner.net.parameters()]


def test_padded_steps_of_an_agent_that_left_change_no_gradient_payoff_or_update() -> None:
    learner = _learner()
    batch = learner.collect()
    assert batch.active is not None and (~batch.active).sum() > 20
    outcomes = []
    weights = torch.rand(3, 40, generator=torch.Generator().manual_seed(0)) + 0.5
    for data in (batch, _scrambled(batch, 1)):
        samples = learner.prepare(data)
        learner.net.zero_grad()
        loss, _ = agent_losses(learner.net, samples, learner.loss_weights, sample_weights=weights)
        loss.sum().backward()
        grads = [p.grad.clone() for p in learner.net.parameters() if p.grad is not None]
        state = copy.deepcopy(learner.state_dict())
        current = copy.deepcopy(learner.net)  # the best response starts from the mixed weights (the default)
        learner.predict(samples)
        logp_predicted = learner._log_prob(samples)
        payoffs = learner.meta_game(samples, logp_predicted)
        rho = torch.tensor([0.3, 0.6, 0.5], dtype=torch.float64)
        learner.best_response(samples, learner.fixed_point(samples, logp_predicted, rho, current))
        outcomes.append((samples.advantages[samples.active > 0], grads, payoffs, _parameters(learner)))
        learner.load_state_dict(state)
    (adv_a, grads_a, payoffs_a, after_a), (adv_b, grads_b, payoffs_b, after_b) = outcomes
    assert torch.equal(adv_a, adv_b)
    assert all(torch.equal(a, b) for a, b in zip(grads_a, grads_b, strict=True))
    np.testing.assert_array_equal(payoffs_a, payoffs_b)
    assert all(torch.equal(a, b) for a, b in zip(after_a, after_b, strict=True))

    # The same scramble without the mask moves the gradient: the test above can fail.
    unmasked = [dataclasses.replace(learner.prepare(b), active=None) for b in (batch, _scrambled(batch, 1))]
    moved = []
    for samples in unmasked:
        learner.net.zero_grad()
        agent_losses(learner.net, samples, learner.loss_weights)[0].sum().backward()
        moved.append([p.grad.clone() for p in learner.net.parameters() if p.grad is not None])
    assert not all(torch.equal(a, b) for a, b in zip(*moved, strict=True))


def test_gradient_chunks_weigh_each_piece_by_its_active_samples() -> None:
    learner = _learner()
    samples = learner.prepare(learner.collect())
    grads = []
    for chunk in (None, 7):
        net = copy.deepcopy(learner.net)
        optimizer = torch.optim.SGD(net.parameters(), lr=0.0)
        if chunk is None:
            agent_losses(net, samples, learner.loss_weights)[0].sum().backward()
        else:
            _accumulate_gradients(net, optimizer, samples, learner.loss_weights, None, None, chunk)
        grads.append([p.grad.clone() for p in net.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_training_with_agents_that_leave_and_join_reproduces(tmp_path: Any) -> None:
    config = TrainConfig(
        env="team_mask", batch_size=40, num_envs=4, hidden=(16,), total_steps=120, env_kwargs=KWARGS
    )
    train(config, tmp_path / "a", progress=False)
    train(config, tmp_path / "b", progress=False)
    a, b = ((tmp_path / r / "metrics.csv").read_text().splitlines() for r in ("a", "b"))
    strip = [i for i, name in enumerate(a[0].split(",")) if not name.startswith(("time_", "steps_per"))]
    assert [[row.split(",")[i] for i in strip] for row in a] == [
        [row.split(",")[i] for i in strip] for row in b
    ]
    assert len(a) == 4
