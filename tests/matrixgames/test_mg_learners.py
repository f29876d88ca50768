"""Single steps and convergence steps of IGA, IGA-PP, WoLF and the original MATRL vs the spec's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from matrl.matrixgames.batch import GameBatch
from matrl.matrixgames.games import named_game, random_games
from matrl.matrixgames.learners import IGA, IGAPP, Learner, WoLF
from matrl.matrixgames.runner import run_learner, trajectory
from matrl.matrixgames.trust_region import MatrlOriginal

START = (np.array([0.9]), np.array([0.2]))


@pytest.fixture(scope="module")
def pennies() -> GameBatch:
    return GameBatch.from_payoffs(named_game("matching_pennies")[None], nashpy_like=True)


@pytest.fixture(scope="module")
def coordination0() -> GameBatch:
    return GameBatch.from_payoffs(random_games("coordination", [0]), nashpy_like=True)


def test_gradients_and_values_are_exact(coordination0: GameBatch) -> None:
    x, y = np.array([0.3]), np.array([0.7])
    p0, p1 = coordination0.payoffs[0]
    mix_x, mix_y = np.array([0.3, 0.7]), np.array([0.7, 0.3])
    assert coordination0.value(0, x, y)[0] == pytest.approx(mix_x @ p0 @ mix_y)
    assert coordination0.value(1, x, y)[0] == pytest.approx(mix_x @ p1 @ mix_y)
    assert coordination0.grad0(y)[0] == pytest.approx((p0[0] - p0[1]) @ mix_y)
    assert coordination0.grad1(x)[0] == pytest.approx(mix_x @ (p1[:, 0] - p1[:, 1]))


@pytest.mark.parametrize(
    ("learner", "expected"),
    [
        (IGA(), (0.876, 0.168)),
        (IGAPP(), (0.87472, 0.16896)),
        (WoLF(lr_min=0.01), (0.828, 0.184)),
        (MatrlOriginal(), (0.8860905, 0.1338564)),
    ],
)
def test_matching_pennies_test_vector(
    pennies: GameBatch, learner: Learner, expected: tuple[float, float]
) -> None:
    x, y = learner.step(pennies, *START, 0)
    np.testing.assert_allclose([x[0], y[0]], expected, atol=5e-8)


def test_matching_pennies_iga_second_step(pennies: GameBatch) -> None:
    xs, ys = trajectory(IGA(), pennies, 2)
    np.testing.assert_allclose(xs[:, 0], [0.9, 0.876, 0.84944], atol=1e-12)
    np.testing.assert_allclose(ys[:, 0], [0.2, 0.168, 0.13792], atol=1e-12)


def test_original_matrl_internals_on_matching_pennies(pennies: GameBatch) -> None:
    it = MatrlOriginal().iterate(pennies, *START, 0)
    np.testing.assert_allclose([it.x_hat[0], it.y_hat[0]], [0.8816293, 0.1749882], atol=5e-8)
    np.testing.assert_array_equal(
        it.rho, [[0.0, 0.0]]
    )  # the only meta NE: both switch to the predicted policy
    np.testing.assert_allclose([it.x_bar[0], it.y_bar[0]], [1.0511965, 0.3840875], atol=5e-8)  # not clipped


@pytest.mark.parametrize("learner", [IGA(), IGAPP(), MatrlOriginal()])
def test_matching_pennies_does_not_converge(pennies: GameBatch, learner: Learner) -> None:
    assert run_learner(learner, pennies, 1000, squared_distance=True).hit[0] == -1


@pytest.mark.parametrize(
    ("learner", "xs", "ys"),
    [
        (IGA(), [0.890737, 0.881721, 0.872946], [0.209843, 0.2194, 0.228681]),
        (MatrlOriginal(), [0.887753, 0.875932, 0.864537], [0.216085, 0.23137, 0.245921]),
    ],
)
def test_coordination_seed0_first_iterates(
    coordination0: GameBatch, learner: Learner, xs: list[float], ys: list[float]
) -> None:
    traj_x, traj_y = trajectory(learner, coordination0, 3)
    np.testing.assert_allclose(traj_x[1:, 0], xs, atol=5e-7)
    np.testing.assert_allclose(traj_y[1:, 0], ys, atol=5e-7)


def test_original_matrl_keeps_all_weight_on_predicted(coordination0: GameBatch) -> None:
    x, y = START
    for t in range(3):
        it = MatrlOriginal().iterate(coordination0, x, y, t)
        np.testing.assert_array_equal(it.rho, [[0.0, 0.0]])
        x, y = it.x, it.y


@pytest.mark.parametrize(
    ("learner", "step", "end"),
    [
        (IGA(), 161, (0.041, 0.0)),
        (IGAPP(), 159, None),
        (WoLF(lr_min=0.01), 25, (1.0, None)),
        (MatrlOriginal(), 115, (0.9638, 0.9750)),
    ],
)
def test_coordination_seed0_converge_steps(
    coordination0: GameBatch, learner: Learner, step: int, end: tuple[float | None, float | None] | None
) -> None:
    result = run_learner(learner, coordination0, 1000, squared_distance=True)
    assert result.hit[0] == step
    if end is not None:
        for got, want in zip((result.x[0], result.y[0]), end, strict=True):
            if want is not None:
                assert got == pytest.approx(want, abs=5e-4)


def test_wolf_learns_slowly_when_winning() -> None:
    """Against y = 1 in coordination_1, player 0 at x = 0.9 earns 0.9 < 1 = V(x* = 1): losing, so lr_max."""
    games = GameBatch.from_payoffs(named_game("coordination_1")[None], nashpy_like=False)
    assert games.wolf_target[0].tolist() == [1.0, 1.0]
    x, y = WoLF(lr_min=0.02, lr_max=0.06).step(games, np.array([0.9]), np.array([0.95]), 0)
    assert x[0] == pytest.approx(0.9 + 0.06 * (2 * 0.95 - 1))
    # player 1 at y = 0.95 against x = 0.9 earns less than y* = 1 would: also losing
    assert y[0] == pytest.approx(0.95 + 0.06 * (2 * 0.9 - 1))
    # at y = 0.2, x = 0.9 earns 0.26 > 0.2 = V(x* = 1, y): winning, so lr_min
    x, _ = WoLF(lr_min=0.02, lr_max=0.06).step(games, np.array([0.9]), np.array([0.2]), 0)
    assert x[0] == pytest.approx(0.9 + 0.02 * (2 * 0.2 - 1))


def test_policies_stay_in_the_unit_interval() -> None:
    games = GameBatch.from_payoffs(random_games("cyclic", np.arange(50)), nashpy_like=False)
    for learner in (IGA(lr=0.5), IGAPP(lr=0.5), WoLF(), MatrlOriginal()):
        xs, ys = trajectory(learner, games, 50)
        assert ((xs >= 0) & (xs <= 1) & (ys >= 0) & (ys <= 1)).all()
