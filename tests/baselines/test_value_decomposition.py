"""VDN, QMIX and QTRAN learners: losses on hand-built batches, target networks, exploration, learning a
one-shot team game, and short runs through the ordinary training harness (resume included)."""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from matrl import checkpoint
from matrl.algos import make_learner
from matrl.baselines.value_decomposition import ValueDecomposition
from matrl.config import VALUE_ALGOS, TrainConfig, ValueConfig, preset
from matrl.eval.evaluate import evaluate
from matrl.learners.replay import TransitionSample
from matrl.training import make_collector, train
from test_training import final_weights, read_metrics


def tiny(algo: str, env: str = "checkers_v0", **value_changes: object) -> TrainConfig:
    value = dict(batch_size=16, warmup_steps=32, buffer_size=1000, target_update_interval=5, mixer_embed=8)
    value.update(value_changes)
    return dataclasses.replace(
        preset(env, algo),
        batch_size=64,
        num_envs=4,
        hidden=(16,),
        total_steps=64 * 4,
        checkpoint_every=1,
        value=dataclasses.replace(ValueConfig(), **value),  # type: ignore[arg-type]
    )


def learner_for(config: TrainConfig) -> ValueDecomposition:
    learner = make_learner(config, make_collector(config))
    assert isinstance(learner, ValueDecomposition)
    return learner


def hand_batch(learner: ValueDecomposition, batch: int = 6, seed: int = 0) -> TransitionSample:
    g = torch.Generator().manual_seed(seed)
    a, d = learner.n_agents, learner.obs_dim
    return TransitionSample(
        obs=torch.rand(a, batch, d, generator=g),
        actions=torch.randint(0, learner.n_actions, (a, batch), generator=g),
        rewards=torch.randn(a, batch, generator=g),
        next_obs=torch.rand(a, batch, d, generator=g),
        terminated=torch.tensor([True, False] * (batch // 2)),
        state=None,
        next_state=None,
    )


def perturb_targets(learner: ValueDecomposition) -> None:
    """Make the target networks differ from the online ones, so the test sees which one is used."""
    with torch.no_grad():
        for p in [*learner.target_agent_q.parameters(), *learner.target_mixer.parameters()]:
            p.add_(0.3 * torch.randn_like(p))


def expected_pieces(learner: ValueDecomposition, s: TransitionSample) -> dict[str, torch.Tensor]:
    """Double-Q quantities written out from the networks, independently of the learner's code path."""
    a, b = s.actions.shape
    q = learner.agent_q(s.obs)
    q_taken = torch.stack([q[i, torch.arange(b), s.actions[i]] for i in range(a)])
    with torch.no_grad():
        online_next = learner.agent_q(s.next_obs)
        target_next = learner.target_agent_q(s.next_obs)
        best = online_next.argmax(-1)
        next_values = torch.stack([target_next[i, torch.arange(b), best[i]] for i in range(a)])
    state = torch.cat([s.obs[i] for i in range(a)], dim=1)
    next_state = torch.cat([s.next_obs[i] for i in range(a)], dim=1)
    return {
        "q": q,
        "q_taken": q_taken,
        "best": best,
        "next_values": next_values,
        "reward": s.rewards.sum(0),
        "not_done": 1.0 - s.terminated.float(),
        "state": state,
        "next_state": next_state,
    }


def expected_loss(learner: ValueDecomposition, s: TransitionSample) -> torch.Tensor:
    e, gamma = expected_pieces(learner, s), learner.config.value.gamma
    if learner.config.algo == "vdn":
        y = e["reward"] + gamma * e["not_done"] * e["next_values"].sum(0)
        return ((e["q_taken"].sum(0) - y) ** 2).mean()
    if learner.config.algo == "qmix":
        with torch.no_grad():
            y = e["reward"] + gamma * e["not_done"] * learner.target_mixer(e["next_values"], e["next_state"])
        return ((learner.mixer(e["q_taken"], e["state"]) - y) ** 2).mean()
    joint, value = learner.mixer["joint"], learner.mixer["value"]
    with torch.no_grad():
        y = e["reward"] + gamma * e["not_done"] * learner.target_mixer["joint"](e["next_state"], e["best"])
    q_jt = joint(e["state"], s.actions)
    td = ((q_jt - y) ** 2).mean()
    greedy = e["q"].argmax(-1)
    q_jt_greedy = joint(e["state"], greedy).detach()
    v = value(e["state"])
    opt = ((e["q"].max(-1).values.sum(0) - q_jt_greedy + v) ** 2).mean()
    nopt = (torch.clamp(e["q_taken"].sum(0) - q_jt.detach() + v, max=0.0) ** 2).mean()
    return td + 1.0 * opt + 0.1 * nopt


@pytest.mark.parametrize("algo", VALUE_ALGOS)
def test_one_gradient_step_is_adam_on_the_hand_written_loss(
    algo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    learner = learner_for(tiny(algo, max_grad_norm=1e9))
    perturb_targets(learner)
    sample = hand_batch(learner)
    monkeypatch.setattr(learner._replay, "sample", lambda *args, **kwargs: sample)
    reference = copy.deepcopy(learner)
    loss = expected_loss(reference, sample)
    optimizer = torch.optim.Adam(reference._net.parameters(), lr=learner.config.value.lr)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

    stats = learner.train_round()

    assert stats["loss"] == pytest.approx(loss.item(), rel=1e-5)
    for name, p in learner._net.named_parameters():
        torch.testing.assert_close(p, dict(reference._net.named_parameters())[name], msg=name)
    assert learner.gradient_steps == 1


def test_qtran_td_loss_uses_the_target_joint_value_at_the_online_greedy_next_action(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    learner = learner_for(tiny("qtran"))
    perturb_targets(learner)
    sample = hand_batch(learner)
    monkeypatch.setattr(learner._replay, "sample", lambda *args, **kwargs: sample)
    e = expected_pieces(learner, sample)
    with torch.no_grad():
        y = e["reward"] + 0.99 * e["not_done"] * learner.target_mixer["joint"](e["next_state"], e["best"])
        td = ((learner.mixer["joint"](e["state"], sample.actions) - y) ** 2).mean()
    stats = learner.train_round()
    assert stats["qtran_td"] == pytest.approx(float(td), rel=1e-5)


@pytest.mark.parametrize("algo", ["vdn", "qmix"])
def test_without_double_q_the_target_network_picks_the_next_action(
    algo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    learner = learner_for(tiny(algo, double_q=False, max_grad_norm=1e9))
    perturb_targets(learner)
    sample = hand_batch(learner)
    monkeypatch.setattr(learner._replay, "sample", lambda *args, **kwargs: sample)
    with torch.no_grad():
        next_values = learner.target_agent_q(sample.next_obs).max(-1).values
        q_taken = learner.agent_q(sample.obs).gather(-1, sample.actions.unsqueeze(-1)).squeeze(-1)
        not_done = 1.0 - sample.terminated.float()
        if algo == "vdn":
            y = sample.rewards.sum(0) + 0.99 * not_done * next_values.sum(0)
            q_tot = q_taken.sum(0)
        else:
            state = torch.cat(list(sample.obs), dim=1)
            next_state = torch.cat(list(sample.next_obs), dim=1)
            y = sample.rewards.sum(0) + 0.99 * not_done * learner.target_mixer(next_values, next_state)
            q_tot = learner.mixer(q_taken, state)
        loss = ((q_tot - y) ** 2).mean()
    assert learner.train_round()["loss"] == pytest.approx(loss.item(), rel=1e-5)


def test_targets_are_copied_exactly_every_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    learner = learner_for(tiny("qmix", target_update_interval=3))
    sample = hand_batch(learner)
    monkeypatch.setattr(learner._replay, "sample", lambda *args, **kwargs: sample)

    def same() -> bool:
        pairs = [(learner.agent_q, learner.target_agent_q), (learner.mixer, learner.target_mixer)]
        return all(
            torch.equal(p, q)
            for online, target in pairs
            for p, q in zip(online.parameters(), target.parameters(), strict=True)
        )

    assert same()
    for step in range(1, 7):
        learner.train_round()
        assert same() == (step % 3 == 0), step


def test_epsilon_greedy_explores_uniformly_then_acts_greedily() -> None:
    learner = learner_for(tiny("vdn", epsilon_start=1.0, epsilon_end=0.0, epsilon_anneal_steps=1000))
    obs = np.random.default_rng(0).random((4000, learner.n_agents, learner.obs_dim), dtype=np.float32)
    counts = np.bincount(learner.act(obs).ravel(), minlength=learner.n_actions)
    expected = counts.sum() / learner.n_actions
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
    learner.env_steps = 1000
    assert learner.epsilon == 0.0
    np.testing.assert_array_equal(learner.act(obs), learner.greedy_actions(obs))
    learner.env_steps = 500
    assert learner.epsilon == pytest.approx(0.5)


@pytest.mark.parametrize("algo", VALUE_ALGOS)
def test_learns_the_team_optimum_of_a_one_shot_prisoners_dilemma(algo: str) -> None:
    """Team reward of the dilemma: (C,C) 6, (C,D) 5, (D,C) 5, (D,D) 4. Selfish learners defect; a learner of
    the joint value must cooperate. The greedy actions after 6,400 steps are checked, not the returns."""
    config = dataclasses.replace(
        tiny(algo, warmup_steps=200, epsilon_anneal_steps=2000, batch_size=64, lr=0.005),
        env="matrix_v0",
        env_kwargs={"game": "prisoners_dilemma", "episode_length": 1, "terminate_at_end": True},
        batch_size=640,
        num_envs=8,
        total_steps=6400,
    )
    learner = learner_for(config)
    for _ in range(10):
        learner.iteration()
    obs = np.ones((1, 2, 1), dtype=np.float32)
    np.testing.assert_array_equal(learner.greedy_actions(obs), [[0, 0]])
    # The learned joint value fits the team payoffs of all four joint actions (a one-shot game: Q = r).
    joint = torch.tensor([[0, 0, 1, 1], [0, 1, 0, 1]])
    state = torch.ones(4, 2)
    with torch.no_grad():
        q_taken = learner.agent_q(torch.ones(2, 4, 1)).gather(-1, joint.unsqueeze(-1)).squeeze(-1)
        if algo == "vdn":
            q_tot = q_taken.sum(0)
        elif algo == "qmix":
            q_tot = learner.mixer(q_taken, state)
        else:
            q_tot = learner.mixer["joint"](state, joint)
    np.testing.assert_allclose(q_tot.numpy(), [6.0, 5.0, 5.0, 4.0], atol=0.3)


@pytest.mark.parametrize("algo", VALUE_ALGOS)
@pytest.mark.parametrize("env", ["checkers_v0", "switch4_v0"])
def test_short_run_writes_the_matrl_metrics_columns(algo: str, env: str, tmp_path: Path) -> None:
    train(tiny(algo, env), tmp_path / "run", progress=False, tensorboard=False)
    rows = read_metrics(tmp_path / "run")
    assert len(rows) == 4
    for column in ("env_steps", "total_return", "return_0", "loss", "epsilon", "gradient_steps"):
        assert column in rows[-1], column
    assert float(rows[-1]["env_steps"]) == 256
    # 256 steps, 32 of warm-up, one gradient step per 4 env copies' step after it.
    assert float(rows[-1]["gradient_steps"]) == (256 - 32) / 4 + 1
    assert math.isfinite(float(rows[-1]["loss"]))


def test_resume_is_bit_identical(tmp_path: Path) -> None:
    config = tiny("qmix")
    train(config, tmp_path / "full", progress=False, tensorboard=False)
    train(config, tmp_path / "cut", progress=False, tensorboard=False, stop_after=2)
    train(None, tmp_path / "cut", resume=True, progress=False, tensorboard=False)
    assert read_metrics(tmp_path / "full") == read_metrics(tmp_path / "cut")
    full, cut = final_weights(tmp_path / "full"), final_weights(tmp_path / "cut")
    assert full.keys() == cut.keys()
    for name in full:
        assert torch.equal(full[name], cut[name]), name


def test_checkpoint_evaluates_greedily(tmp_path: Path) -> None:
    train(tiny("vdn"), tmp_path / "run", progress=False, tensorboard=False)
    _, path = checkpoint.list_models(tmp_path / "run")[-1]
    result = evaluate(path, episodes=3, greedy=True)
    assert result.returns.shape == (3, 2)
    again = evaluate(path, episodes=3, greedy=True)
    np.testing.assert_array_equal(result.returns, again.returns)


def test_one_line_errors() -> None:
    with pytest.raises(ValueError, match="needs discrete actions"):
        config = dataclasses.replace(preset("hopper_3x1", "vdn"), num_envs=4, batch_size=160, env_workers=1)
        learner_for(config)
    with pytest.raises(ValueError, match="batch_size=64 is not allowed for qmix"):
        learner_for(tiny("qmix", steps_per_update=3))
    with pytest.raises(ValueError, match=r"value\.lr=0\.0 is not allowed"):
        tiny("vdn", lr=0.0).validate()
    with pytest.raises(ValueError, match=r"value\.epsilon_end=1\.5"):
        tiny("vdn", epsilon_end=1.5).validate()


def test_loss_columns_exist_from_the_first_row_even_during_warm_up(tmp_path: Path) -> None:
    train(tiny("qtran", warmup_steps=100), tmp_path / "run", progress=False, tensorboard=False)
    rows = read_metrics(tmp_path / "run")
    assert math.isnan(float(rows[0]["loss"])) and math.isnan(float(rows[0]["qtran_nopt"]))
    assert float(rows[0]["gradient_steps"]) == 0
    assert math.isfinite(float(rows[-1]["loss"])) and math.isfinite(float(rows[-1]["qtran_nopt"]))
