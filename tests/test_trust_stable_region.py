"""The trust stable region study's machinery: held-out estimators, the BR start, controls, diagnostics."""

from __future__ import annotations

import copy
import csv
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from matrl import checkpoint
from matrl.algorithm import MATRL, IterationResult
from matrl.config import TrainConfig, preset
from matrl.envs.matrix import stage_payoffs, stage_regrets
from matrl.envs.spec import ActionSpec
from matrl.gametheory import diagnostics as diag
from matrl.learners.distributions import CategoricalHead, GaussianHead
from matrl.rollout import LocalCollector
from matrl.training import train

TIMING = ("time_", "steps_per_second")


def tiny(env: str = "checkers_v0", algo: str = "matrl", total: int = 64 * 4, **meta: object) -> TrainConfig:
    base = preset(env)
    config = dataclasses.replace(
        base,
        algo=algo,  # type: ignore[arg-type]
        batch_size=64,
        num_envs=8,
        hidden=(16,),
        total_steps=total,
        checkpoint_every=2,
    )
    return dataclasses.replace(config, meta=dataclasses.replace(config.meta, **meta))  # type: ignore[arg-type]


def learner(config: TrainConfig) -> MATRL:
    return MATRL(config, LocalCollector(config.env, config.num_envs, **config.env_kwargs))


def rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as f:
        return [{k: v for k, v in r.items() if not k.startswith(TIMING)} for r in csv.DictReader(f)]


# ---------------------------------------------------------------- meta-game diagnostics (pure game theory)
def test_dominance_own_gain_and_cross_effect_of_a_hand_made_game() -> None:
    # Agent 0: switching gains 1 when agent 1 keeps, 1.5 when agent 1 switches (cross effect 0.5 / 1).
    # Agent 1: switching loses 2 when agent 0 keeps, gains 1 when it switches (no dominant action).
    g = np.zeros((2, 2, 2))
    g[0] = [[0.0, 0.2], [1.0, 1.7]]
    g[1] = [[0.0, -2.0], [0.5, 1.5]]
    assert diag.own_switch_payoffs(g).tolist() == [1.0, -2.0]
    assert diag.dominant_actions(g).tolist() == [1, -1]
    ratios = diag.cross_effect_ratios(g)
    assert ratios[0] == pytest.approx(0.5)
    assert ratios[1] == pytest.approx(3.0 / 2.0)
    keep_dominant = -g
    assert diag.dominant_actions(keep_dominant).tolist() == [0, -1]


def test_trust_region_bounds_follow_theorem_1_and_remark_1() -> None:
    g = np.zeros((2, 2, 2))
    g[0] = [[0.0, 0.1], [0.3, 0.5]]
    g[1] = [[0.0, 0.4], [0.2, 0.6]]
    alpha, eps, gamma = np.array([0.1, 0.2]), np.array([2.0, 3.0]), 0.9
    tpr, tsr = diag.trust_region_bounds(g, [0.0, 0.0], alpha, eps, gamma)
    combined = 1 - 0.9 * 0.8
    expected = np.array([0.5, 0.6]) - 4 * gamma * eps / (1 - gamma) ** 2 * combined**2
    np.testing.assert_allclose(tpr, expected)
    np.testing.assert_allclose(tsr, tpr)  # rho = 0: pibar = pihat, Remark 1 is Theorem 1
    _, keep = diag.trust_region_bounds(g, [1.0, 1.0], alpha, eps, gamma)
    np.testing.assert_allclose(keep, 0.0)  # rho = 1: nothing moves, no gain and no penalty
    _, half = diag.trust_region_bounds(g, [0.5, 0.5], alpha, eps, gamma)
    assert np.all(half > tpr)  # the tighter bound of Remark 1


def test_total_variation_of_the_heads() -> None:
    p, q = torch.tensor([[[0.0, 0.0]]]), torch.tensor([[[math.log(3.0), 0.0]]])
    # softmax(p) = (1/2, 1/2), softmax(q) = (3/4, 1/4): TV = 1/4.
    assert CategoricalHead.total_variation(p, q).item() == pytest.approx(0.25)
    head = GaussianHead(ActionSpec.box(np.array([[-1.0]]), np.array([[1.0]])))
    shift = 0.3
    mean_p, mean_q = torch.tensor([[[0.0, 0.0]]]), torch.tensor([[[shift, 0.0]]])
    exact = math.erf(shift / (2 * math.sqrt(2)))  # TV of N(0, 1) and N(0.3, 1) = 2 Phi(0.15) - 1
    bound = head.total_variation(mean_p, mean_q).item()
    assert exact <= bound <= math.sqrt(shift**2 / 4) + 1e-6  # Pinsker: sqrt(KL / 2), KL = shift^2 / 2
    assert head.total_variation(mean_p, mean_p).item() == 0.0


def test_stage_regrets_are_the_nash_conv_of_the_one_shot_game() -> None:
    pennies = stage_payoffs("matching_pennies")
    assert stage_regrets(pennies, [[0.5, 0.5], [0.5, 0.5]]).sum() == pytest.approx(0.0)
    # Both play heads: the row player (matcher) wins; the column player would gain 2 by switching.
    np.testing.assert_allclose(stage_regrets(pennies, [[1.0, 0.0], [1.0, 0.0]]), [0.0, 2.0])
    three = np.random.default_rng(0).normal(size=(3, 2, 2, 2))
    pure = stage_regrets(three, [[1, 0], [0, 1], [1, 0]])
    for i in range(3):  # regret of a pure profile: best deviation minus the payoff at the profile
        profile = [0, 1, 0]
        values = [three[(i, *(a if j == i else profile[j] for j in range(3)))] for a in range(2)]
        assert pure[i] == pytest.approx(max(values) - values[profile[i]])


# ---------------------------------------------------------------- estimators
def test_crossfit_leaves_the_predicted_step_alone_and_reports_the_in_sample_bias() -> None:
    base, fitted = learner(tiny()), learner(tiny(estimator="crossfit"))
    a, b = base.iteration().metrics, fitted.iteration().metrics
    for key in ("predict_approx_kl", "predict_policy_loss", "surrogate_0", "own_gain_0"):
        assert a[key] == b[key]  # same full-batch pihat, same in-sample game
    assert "own_gain_heldout_0" in b and "own_gain_heldout_0" not in a
    assert b["own_gain_bias_mean"] == pytest.approx(b["own_gain_mean"] - b["own_gain_heldout_mean"])
    assert b["g0_10"] == pytest.approx(b["own_gain_heldout_0"])  # the solved game is the held-out one
    assert b["g0_10"] != a["g0_10"]


def test_fresh_batch_counts_its_env_steps_and_sets_the_iterations() -> None:
    config = tiny(estimator="fresh", fresh_fraction=0.5, total=1000)
    assert config.fresh_steps_per_env == 4 and config.steps_per_iteration == 96
    assert config.iterations == math.ceil(1000 / 96)
    run = learner(config)
    metrics = run.iteration().metrics
    assert run.env_steps == 96
    assert "own_gain_heldout_0" in metrics
    assert tiny(algo="il-pp", estimator="fresh").steps_per_iteration == 64  # only MATRL estimates the game


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"estimator": "crossfit", "num_envs": 1}, "crossfit splits the env copies"),
        ({"fresh_fraction": 0.0}, "meta.fresh_fraction=0.0"),
        ({"fresh_fraction": 1.5}, "in (0, 1]"),
        ({"estimator": "bootstrap"}, "meta.estimator='bootstrap'"),
        ({"br_start": "pibar"}, "meta.br_start='pibar'"),
        ({"placebo_keep_rate": -0.1}, "meta.placebo_keep_rate"),
    ],
)
def test_bad_meta_settings_are_one_line_errors(changes: dict[str, object], message: str) -> None:
    num_envs = changes.pop("num_envs", 8)
    config = dataclasses.replace(tiny(**changes), batch_size=64 if num_envs == 8 else 8, num_envs=num_envs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("]", r"\]")) as err:
        config.validate()
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- the BR start and the controls
def test_mixture_start_moves_each_agent_to_its_own_interpolated_weights() -> None:
    run = learner(tiny(br_start="mixture"))
    samples = run.prepare(run.collect())
    before = copy.deepcopy(run.net)
    run.predict(samples)
    predicted = [p.detach().clone() for p in run.net.parameters()]
    logp_hat = run._log_prob(samples)
    logp_bar = run.fixed_point(samples, logp_hat, torch.tensor([1.0, 0.25], dtype=torch.float64), before)
    for now, c, h in zip(run.net.parameters(), before.parameters(), predicted, strict=True):
        torch.testing.assert_close(now[0], c[0])  # rho_0 = 1: back to pi_0
        torch.testing.assert_close(now[1], 0.25 * c[1] + 0.75 * h[1])
    # pibar itself stays the exact mixture of distributions (policy mode), not the interpolated network.
    torch.testing.assert_close(logp_bar[0], samples.logp[0])


def test_il_matched_is_keep_with_the_predicted_start_and_differs_from_il() -> None:
    matched, il = learner(tiny(algo="il-matched")), learner(tiny(algo="il"))
    keep = learner(tiny(algo="keep", br_start="predicted"))
    for _ in range(2):
        m, k = matched.iteration().metrics, keep.iteration().metrics
        il.iteration()
    assert m["br_weight_mean"] == 1.0 and m["rho_0"] == 1.0
    assert m["br_policy_loss"] == k["br_policy_loss"]

    def same(a: MATRL, b: MATRL) -> bool:
        return all(torch.equal(x, y) for x, y in zip(a.net.parameters(), b.net.parameters(), strict=True))

    assert same(matched, keep)
    assert not same(matched, il)


def test_placebo_keeps_at_the_configured_rate() -> None:
    run = learner(tiny(algo="placebo", placebo_keep_rate=0.3))
    draws = np.concatenate([run.meta_strategy(None, IterationResult()).numpy() for _ in range(2000)])
    assert set(np.unique(draws)) <= {0.0, 1.0}
    assert abs(draws.mean() - 0.3) < 0.03


@pytest.mark.parametrize(
    "meta",
    [{"estimator": "crossfit", "br_start": "mixture"}, {"estimator": "fresh"}, {}],
    ids=["crossfit-mixture", "fresh", "placebo"],
)
def test_resume_is_bit_identical_with_the_new_estimators(tmp_path: Path, meta: dict[str, object]) -> None:
    algo = "matrl" if meta else "placebo"
    config = tiny(algo=algo, total=64 * 5, **meta)
    train(config, tmp_path / "full", progress=False)
    train(config, tmp_path / "cut", progress=False, stop_after=3)
    train(None, tmp_path / "cut", resume=True, progress=False)
    assert rows(tmp_path / "cut") == rows(tmp_path / "full")
    (_, a), (_, b) = (
        checkpoint.list_models(tmp_path / "full")[-1],
        checkpoint.list_models(tmp_path / "cut")[-1],
    )
    full, cut = checkpoint.load_model(a)[0], checkpoint.load_model(b)[0]
    assert all(torch.equal(full[k], cut[k]) for k in full)


def test_matrix_game_runs_log_the_stage_game_nash_conv(tmp_path: Path) -> None:
    config = dataclasses.replace(
        tiny("matrix_v0", algo="il-pp", total=64 * 2), env_kwargs={"game": "matching_pennies"}
    )
    train(config, tmp_path / "run", progress=False)
    last = rows(tmp_path / "run")[-1]
    probs = np.array([[float(last[f"stage_p{i}_{a}"]) for a in range(2)] for i in range(2)])
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    expected = stage_regrets(stage_payoffs("matching_pennies"), probs).sum()
    assert float(last["stage_nash_conv"]) == pytest.approx(expected, rel=1e-6)


def test_new_runs_start_the_best_response_from_the_mixture_and_old_runs_keep_theirs(tmp_path: Path) -> None:
    assert TrainConfig().meta.br_start == "mixture"  # chosen by docs/trust_stable_region.md
    written = tiny().to_dict()
    assert TrainConfig.from_dict(written).meta.br_start == "mixture"  # round trip
    del written["meta"]["br_start"]  # a config.json from before the option: it trained from pihat
    assert TrainConfig.from_dict(written).meta.br_start == "predicted"
