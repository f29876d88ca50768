"""MADDPG: the critic and actor updates against independent hand computations, the Polyak targets, the
exploration rule, a short real run on Hopper 3x1 and the refusal of discrete actions."""

from __future__ import annotations

import copy
import csv
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from matrl import checkpoint
from matrl.baselines.maddpg import MADDPG, build_maddpg_actor, clip_grad_norm_per_agent
from matrl.config import MADDPGConfig, TrainConfig, preset
from matrl.envs.spec import ActionSpec
from matrl.learners.networks import BatchedMLP
from matrl.learners.replay import TransitionSample
from matrl.rollout.base import Batch
from matrl.training import make_collector, train

# Two agents with uneven boxes: agent 1 controls one entry, its second entry is padding.
LOWS = [np.array([-1.0, -2.0]), np.array([0.5])]
HIGHS = [np.array([1.0, 3.0]), np.array([2.5])]
SPEC = ActionSpec.box(LOWS, HIGHS)
OBS_DIM = 3


class BoxCollector:
    """The collector contract without an environment: the unit tests drive the learner directly."""

    num_envs = 2
    n_agents = 2
    obs_dim = OBS_DIM
    n_actions = SPEC.dim
    action_spec = SPEC

    def collect(self, act: object, steps_per_env: int, to_env: object = None) -> Batch:
        raise AssertionError("the unit tests never collect")

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        pass


def box_learner(seed: int = 0, **changes: object) -> MADDPG:
    fields: dict[str, object] = {
        "hidden": (4,),
        "batch_size": 5,
        "buffer_size": 64,
        "update_every": 4,
        "warmup_steps": 8,
        "critic_lr": 0.01,
        "actor_lr": 0.01,
        "gamma": 0.9,
    }
    fields.update(changes)
    maddpg = dataclasses.replace(MADDPGConfig(), **fields)  # type: ignore[arg-type]
    config = TrainConfig(env="box", algo="maddpg", seed=seed, batch_size=8, num_envs=2, maddpg=maddpg)
    return MADDPG(config, BoxCollector())


def fill(learner: MADDPG, count: int = 6) -> None:
    """Known transitions: in-bounds actions with zero padding, different rewards per agent, some terminal."""
    rng = np.random.default_rng(123)
    obs = rng.normal(size=(count, 2, OBS_DIM)).astype(np.float32)
    next_obs = rng.normal(size=(count, 2, OBS_DIM)).astype(np.float32)
    actions = rng.uniform(SPEC.low, SPEC.high, size=(count, 2, 2)).astype(np.float32) * SPEC.mask
    rewards = rng.normal(size=(count, 2)).astype(np.float32)
    terminated = np.arange(count) % 3 == 0
    learner.replay.add_batch(obs, actions, rewards, next_obs, terminated)


def next_sample(learner: MADDPG) -> TransitionSample:
    """The minibatch the learner's next gradient step will draw (same buffer, a copy of its generator)."""
    rng = np.random.default_rng()
    rng.bit_generator.state = learner.replay_rng.bit_generator.state
    return learner.replay.sample(learner.config.maddpg.batch_size, rng)


def mlp(net: BatchedMLP, agent: int, x: torch.Tensor) -> torch.Tensor:
    """Agent ``agent``'s MLP written out: leaky ReLU (slope 0.2) hidden layers, linear output."""
    for layer in net.hidden:
        x = nn.functional.leaky_relu(x @ layer.weight[agent] + layer.bias[agent, 0], 0.2)
    out: torch.Tensor = x @ net.output.weight[agent] + net.output.bias[agent, 0]
    return out


def squash(agent: int, u: torch.Tensor) -> torch.Tensor:
    low = torch.as_tensor(SPEC.low[agent])
    high = torch.as_tensor(SPEC.high[agent])
    action = (high + low) / 2 + (high - low) / 2 * torch.tanh(u)
    return action * torch.as_tensor(SPEC.mask[agent], dtype=torch.float32)


def flat(parts: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(parts, dim=1)


@pytest.mark.parametrize("max_grad_norm", [1e6, 0.05])
def test_critic_step_is_one_adam_step_of_the_hand_computed_td_loss(max_grad_norm: float) -> None:
    learner = box_learner(max_grad_norm=max_grad_norm)
    fill(learner)
    sample = next_sample(learner)
    target_actor = copy.deepcopy(learner.target_actor.mlp)
    target_critic = copy.deepcopy(learner.target_critic)
    manual = copy.deepcopy(learner.critic)
    gamma = learner.config.maddpg.gamma

    with torch.no_grad():
        next_actions = [squash(j, mlp(target_actor, j, sample.next_obs[j])) for j in range(2)]
        next_x = flat([sample.next_obs[0], sample.next_obs[1], *next_actions])
        alive = 1.0 - sample.terminated.float()
        targets = [sample.rewards[i] + gamma * alive * mlp(target_critic, i, next_x)[:, 0] for i in range(2)]
    x = flat([sample.obs[0], sample.obs[1], sample.actions[0], sample.actions[1]])
    losses = [((mlp(manual, i, x)[:, 0] - targets[i]) ** 2).mean() for i in range(2)]
    (losses[0] + losses[1]).backward()
    norms = [math.sqrt(sum(float(p.grad[i].pow(2).sum()) for p in manual.parameters())) for i in range(2)]
    for i in range(2):
        scale = min(1.0, max_grad_norm / (norms[i] + 1e-6))
        for p in manual.parameters():
            p.grad[i] *= scale
    torch.optim.Adam(manual.parameters(), lr=learner.config.maddpg.critic_lr).step()
    if max_grad_norm < 1:
        assert max(norms) > max_grad_norm  # the clipping branch is really exercised

    before = copy.deepcopy(learner.critic)
    stats_ = learner.train_round()
    assert stats_["critic_loss"] == pytest.approx(float((losses[0] + losses[1]).detach()) / 2, rel=1e-5)
    assert learner.gradient_steps == 1
    for (name, got), want, old in zip(
        learner.critic.named_parameters(), manual.parameters(), before.parameters(), strict=True
    ):
        assert not torch.equal(got, old), name
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6, msg=name)


def test_targets_are_polyak_averages_after_each_step() -> None:
    tau = 0.3
    learner = box_learner(tau=tau)
    fill(learner)
    learner.train_round()  # after one step the targets differ from the online networks
    for online, target in ((learner.actor, learner.target_actor), (learner.critic, learner.target_critic)):
        old_target = [p.detach().clone() for p in target.parameters()]
        assert any(not torch.equal(t, o) for t, o in zip(old_target, online.parameters(), strict=True))
    names = ("target_actor", "target_critic")
    olds = {name: [p.detach().clone() for p in learner.networks()[name].parameters()] for name in names}
    learner.train_round()
    for online, name in ((learner.actor, "target_actor"), (learner.critic, "target_critic")):
        for new_target, old, new_online in zip(
            learner.networks()[name].parameters(), olds[name], online.parameters(), strict=True
        ):
            # Bit for bit, in float32 as (1 - tau) * old + tau * new, evaluated as one fused multiply-add.
            assert torch.equal(new_target, old.mul(1 - tau).add(new_online, alpha=tau)), name


def test_actor_loss_reaches_only_the_agents_own_actor_and_includes_the_penalty() -> None:
    reg = 0.5
    learner = box_learner(action_reg=reg)
    fill(learner)
    sample = next_sample(learner)
    losses = learner.actor_loss(sample)

    actor, critic = learner.actor.mlp, learner.critic
    with torch.no_grad():
        for i in range(2):
            u = mlp(actor, i, sample.obs[i])
            acts = [sample.actions[0], sample.actions[1]]
            acts[i] = squash(i, u)
            q = mlp(critic, i, flat([sample.obs[0], sample.obs[1], *acts]))[:, 0]
            real = torch.as_tensor(SPEC.mask[i])
            penalty = (u[:, real] ** 2).mean()
            assert reg * penalty > 1e-3 * abs(float(q.mean()))  # the penalty is not negligible here
            torch.testing.assert_close(losses[i], -q.mean() + reg * penalty, rtol=1e-5, atol=1e-6)

    for i in range(2):
        learner.actor.zero_grad(set_to_none=True)
        losses[i].backward(retain_graph=True)
        for name, p in learner.actor.named_parameters():
            assert p.grad is not None
            assert torch.count_nonzero(p.grad[1 - i]) == 0, f"agent {i}'s loss moved agent {1 - i}'s {name}"
        assert any(torch.count_nonzero(p.grad[i]) > 0 for p in learner.actor.parameters())

    learner.train_round()
    assert all(p.requires_grad for p in learner.critic.parameters())  # the actor step's freeze is undone


def test_per_agent_clipping_scales_each_agents_slice_alone() -> None:
    net = BatchedMLP(3, 2, 1, hidden=(4,))
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    for p in net.parameters():
        p.grad[1] *= 1e-3  # agent 1 is under the limit and keeps its gradient
    norms = clip_grad_norm_per_agent(net, 0.5)
    after = [math.sqrt(sum(float(p.grad[a].pow(2).sum()) for p in net.parameters())) for a in range(3)]
    assert after[0] == pytest.approx(0.5, rel=1e-5) and after[2] == pytest.approx(0.5, rel=1e-5)
    assert after[1] == pytest.approx(float(norms[1]), rel=1e-6) and float(norms[1]) < 0.5


def test_exploration_is_uniform_in_warm_up_then_noisy_greedy_in_bounds_and_seeded() -> None:
    learner = box_learner(warmup_steps=8, exploration_noise=0.1)
    obs = np.zeros((4000, 2, OBS_DIM), dtype=np.float32)
    warm = learner.act(obs)
    assert warm.shape == (4000, 2, 2) and warm.dtype == np.float32
    assert np.all(warm[:, 1, 1] == 0.0)  # padding
    assert np.all((warm >= SPEC.low) & (warm <= SPEC.high))
    for agent, entry in ((0, 0), (0, 1), (1, 0)):
        lo, hi = SPEC.low[agent, entry], SPEC.high[agent, entry]
        assert stats.kstest(warm[:, agent, entry], "uniform", args=(lo, hi - lo)).pvalue > 1e-3

    learner.env_steps = 8
    noisy = learner.act(obs)
    greedy = learner.greedy_env_actions(obs)
    assert np.all((noisy >= SPEC.low) & (noisy <= SPEC.high)) and np.all(noisy[:, 1, 1] == 0.0)
    half = (SPEC.high - SPEC.low) / 2
    for agent, entry in ((0, 0), (0, 1), (1, 0)):
        diff = noisy[:, agent, entry] - greedy[:, agent, entry]
        assert abs(diff.mean()) < 0.1 * 0.1 * half[agent, entry]
        assert diff.std() == pytest.approx(0.1 * half[agent, entry], rel=0.05)

    def trace(seed: int) -> list[np.ndarray]:
        other = box_learner(seed=seed)
        out = [other.act(obs[:5])]
        other.env_steps = 8
        return [*out, other.act(obs[:5])]

    assert all(np.array_equal(a, b) for a, b in zip(trace(3), trace(3), strict=True))
    assert not np.array_equal(trace(3)[0], trace(4)[0])


def hopper_config(**changes: object) -> TrainConfig:
    maddpg = dataclasses.replace(
        MADDPGConfig(), warmup_steps=400, batch_size=32, hidden=(16,), update_every=20, buffer_size=2000
    )
    fields: dict[str, object] = {
        "total_steps": 600,
        "batch_size": 200,
        "checkpoint_every": 3,
        "maddpg": maddpg,
        "env_kwargs": {"max_steps": 50},
    }
    fields.update(changes)
    return dataclasses.replace(preset("hopper_3x1", "maddpg"), **fields)  # type: ignore[arg-type]


def test_learner_iterates_on_hopper() -> None:
    config = hopper_config()
    collector = make_collector(config)
    learner = MADDPG(config, collector)
    assert learner.round_steps == 5 and learner.spec.dim == 1
    first = learner.iteration().metrics  # all warm-up: no gradient step, NaN diagnostics
    assert first["gradient_steps"] == 0 and math.isnan(first["critic_loss"])
    second = learner.iteration().metrics  # warm-up ends with the last round
    assert second["gradient_steps"] == 1
    assert all(math.isfinite(second[k]) for k in ("critic_loss", "actor_loss", "q_mean"))
    assert learner.env_steps == 400 and len(learner.replay) == 400


def test_short_hopper_run_through_the_harness(tmp_path: Path) -> None:
    config = hopper_config()
    train(config, tmp_path, progress=False, tensorboard=False)
    with (tmp_path / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and "critic_loss" in rows[0]
    assert [int(r["gradient_steps"]) for r in rows] == [0, 1, 11]
    for row in rows[1:]:
        assert all(math.isfinite(float(row[k])) for k in ("critic_loss", "actor_loss", "q_mean"))

    # Evaluation rebuilds the actors from the checkpoint's actor.* tensors.
    _, path = checkpoint.list_models(tmp_path)[-1]
    tensors = checkpoint.load_model(path)[0]
    collector = make_collector(config)
    actor = build_maddpg_actor(config, collector.n_agents, collector.obs_dim, collector.action_spec)
    actor.load_state_dict({k[len("actor.") :]: v for k, v in tensors.items() if k.startswith("actor.")})
    obs = torch.zeros(collector.n_agents, 1, collector.obs_dim)
    action = actor(obs)
    assert action.shape == (3, 1, 1) and torch.all(action.abs() <= 1.0)


def test_discrete_env_is_refused_in_one_line() -> None:
    config = preset("checkers_v0", "maddpg")
    with pytest.raises(ValueError, match="maddpg needs continuous actions") as err:
        MADDPG(config, make_collector(config))
    assert "checkers_v0" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match="maddpg needs continuous actions"):
        build_maddpg_actor(config, 2, 4, ActionSpec.discrete(5))


def test_interrupted_hopper_run_resumes_bit_identically(tmp_path: Path) -> None:
    config = hopper_config(checkpoint_every=1)
    train(config, tmp_path / "full", progress=False, tensorboard=False)
    train(config, tmp_path / "cut", progress=False, stop_after=2, tensorboard=False)
    train(None, tmp_path / "cut", resume=True, progress=False, tensorboard=False)
    rows = []
    for run in ("full", "cut"):
        with (tmp_path / run / "metrics.csv").open() as f:
            rows.append(
                [
                    {k: v for k, v in r.items() if not k.startswith(("time_", "steps_per"))}
                    for r in csv.DictReader(f)
                ]
            )
    assert rows[0] == rows[1]
    full, cut = (
        checkpoint.load_model(checkpoint.list_models(tmp_path / r)[-1][1])[0] for r in ("full", "cut")
    )
    assert full.keys() == cut.keys() and all(torch.equal(full[k], cut[k]) for k in full)
