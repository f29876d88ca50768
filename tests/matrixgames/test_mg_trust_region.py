"""MATRL's paper variant: the KL-penalised predicted step, the mixture, the best-response start."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matrl.matrixgames.batch import GameBatch
from matrl.matrixgames.games import named_game, random_games
from matrl.matrixgames.metagame import kl_bernoulli, kl_original
from matrl.matrixgames.runner import run_learner
from matrl.matrixgames.trust_region import MatrlOriginal, MatrlPaper, proximal_step


@pytest.fixture(scope="module")
def games() -> GameBatch:
    payoffs = np.concatenate(
        [random_games(c, np.arange(30)) for c in ("coordination", "anti-coordination", "cyclic")]
    )
    return GameBatch.from_payoffs(payoffs, np.arange(90, dtype=np.uint64), nashpy_like=False)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(-300.0, 300.0), st.sampled_from([1.0, 10.0, 100.0]))
def test_proximal_step_is_the_penalised_argmax(p: float, grad: float, coeff: float) -> None:
    q = proximal_step(np.array([p]), np.array([grad]), coeff)[0]
    assert 0.0 <= q <= 1.0

    def objective(v: np.ndarray) -> np.ndarray:
        return grad * v - coeff * kl_bernoulli(np.full_like(v, p), v)

    grid = np.linspace(0.0, 1.0, 20001)
    best = np.nanmax(objective(grid))
    assert objective(np.array([q]))[0] >= best - 1e-6 * max(1.0, abs(best))
    assert (q - p) * grad >= 0  # never moves against the gradient: V(q) >= V(p)


def test_proximal_step_is_a_small_natural_gradient_step() -> None:
    p, grad = np.array([0.9, 0.5, 0.2]), np.array([-1.2, 0.7, 2.0])
    q = proximal_step(p, grad, 100.0)
    np.testing.assert_allclose(q - p, p * (1 - p) * grad / 100.0, rtol=0.05)
    np.testing.assert_array_equal(proximal_step(p, np.zeros(3), 100.0), p)


def test_paper_iterate_is_consistent(games: GameBatch) -> None:
    learner = MatrlPaper(br_start="predicted")
    x, y = np.full(len(games), 0.9), np.full(len(games), 0.2)
    it = learner.iterate(games, x, y, 0)
    x_hat, y_hat = learner.predicted(games, x, y)
    np.testing.assert_array_equal(it.x_hat, x_hat)
    # mixture rho * pi + (1 - rho) * pi_hat, inside [0, 1]
    np.testing.assert_allclose(it.x_bar, it.rho[:, 0] * x + (1 - it.rho[:, 0]) * x_hat, atol=1e-15)
    np.testing.assert_allclose(it.y_bar, it.rho[:, 1] * y + (1 - it.rho[:, 1]) * y_hat, atol=1e-15)
    assert ((it.x_bar >= 0) & (it.x_bar <= 1)).all()
    # best response from the predicted policy against the other's mixture (Algorithm 2's reading)
    np.testing.assert_allclose(it.x, np.clip(x_hat + 0.03 * games.grad0(it.y_bar), 0, 1), atol=1e-15)
    np.testing.assert_allclose(it.y, np.clip(y_hat + 0.03 * games.grad1(it.x_bar), 0, 1), atol=1e-15)


@pytest.mark.parametrize("start", ["current", "mixture"])
def test_best_response_start_option(games: GameBatch, start: str) -> None:
    x, y = np.full(len(games), 0.6), np.full(len(games), 0.3)
    assert MatrlPaper().br_start == "current"
    it = MatrlPaper(br_start=start).iterate(games, x, y, 0)  # type: ignore[arg-type]
    x0 = x if start == "current" else it.x_bar
    np.testing.assert_allclose(it.x, np.clip(x0 + 0.03 * games.grad0(it.y_bar), 0, 1), atol=1e-15)


def test_gradient_prediction_option(games: GameBatch) -> None:
    x, y = np.full(len(games), 0.6), np.full(len(games), 0.3)
    x_hat, y_hat = MatrlPaper(predict="gradient").predicted(games, x, y)
    np.testing.assert_allclose(x_hat, np.clip(x + 0.02 * games.grad0(y), 0, 1))
    np.testing.assert_allclose(y_hat, np.clip(y + 0.02 * games.grad1(x), 0, 1))


def test_predicted_step_improves_each_player_against_the_others_current(games: GameBatch) -> None:
    """The trust payoff region: V_i(pi_hat_i, pi_-i) >= V_i(pi_i, pi_-i) (Theorem 1's premise)."""
    rng = np.random.default_rng(3)
    x, y = rng.uniform(size=len(games)), rng.uniform(size=len(games))
    x_hat, y_hat = MatrlPaper().predicted(games, x, y)
    assert (games.value(0, x_hat, y) >= games.value(0, x, y) - 1e-15).all()
    assert (games.value(1, x, y_hat) >= games.value(1, x, y) - 1e-15).all()


def test_original_mixture_is_unclipped_and_biased(games: GameBatch) -> None:
    x, y = np.full(len(games), 0.9), np.full(len(games), 0.2)
    it = MatrlOriginal().iterate(games, x, y, 0)
    expected = it.rho[:, 0] * x + (1 - it.rho[:, 0]) * it.x_hat + 100 * kl_original(x, it.x_hat)
    np.testing.assert_allclose(it.x_bar, expected, atol=1e-15)


def test_selection_rules_are_deterministic(games: GameBatch) -> None:
    for rule in ("random", "first", "last", "welfare"):
        a = run_learner(MatrlPaper(selection=rule), games, 300)  # type: ignore[arg-type]
        b = run_learner(MatrlPaper(selection=rule), games, 300)  # type: ignore[arg-type]
        np.testing.assert_array_equal(a.hit, b.hit)


def test_paper_matrl_on_named_games() -> None:
    """Fig. 9: MATRL converges on chicken and the prisoners' dilemma, faster than IGA's 9 / 43 updates."""
    for name, bound in (("chicken", 8), ("prisoners_dilemma", 42)):
        games = GameBatch.from_payoffs(named_game(name)[None], nashpy_like=False)
        hit = run_learner(MatrlPaper(), games, 1000).hit[0]
        assert 0 <= hit < bound


def test_invalid_options() -> None:
    with pytest.raises(ValueError):
        MatrlPaper(predict="newton")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MatrlPaper(br_start="nowhere")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MatrlPaper(selection="best")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MatrlPaper(kl_coeff=0.0)


def test_matching_pennies_needs_a_long_enough_prediction() -> None:
    """Fig. 4: linearised at the NE with rho = (0, 0), MATRL is stable iff br_lr < 2 g / (1 + 16 g^2), with g
    the prediction step; the KL-penalised step (g ~ x (1 - x) / 100) is too short, one gradient step (0.02)
    is not, and a best response started from the predicted policy is never stable."""
    pennies = GameBatch.from_payoffs(named_game("matching_pennies")[None], nashpy_like=False)
    assert run_learner(MatrlPaper(), pennies, 1000).hit[0] == -1
    assert run_learner(MatrlPaper(br_start="predicted", predict="gradient"), pennies, 3000).hit[0] == -1
    assert 0 < run_learner(MatrlPaper(predict="gradient"), pennies, 1000).hit[0] < 1000
