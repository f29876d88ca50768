"""Switch golden vectors of the spec (reference section 8): ma-gym's own tests and S1-S8, on both backends."""

from __future__ import annotations

import pytest
from gw_helpers import BACKENDS, Runner, Step, f32
from numpy.testing import assert_array_equal

pytestmark = pytest.mark.parametrize("backend", BACKENDS)

SWITCH4_RESET = [[0.0, 0.17], [0.0, 0.83], [1.0, 0.17], [1.0, 0.83]]


def play(env: Runner, plan: list[list[int]]) -> tuple[list[Step], list[float]]:
    env.reset()
    steps = [env.step(a) for a in plan]
    returns = [sum(s.rewards[i] for s in steps) for i in range(env.n)]
    return steps, returns


def test_switch2_reset_and_first_step(backend: str) -> None:
    env = Runner("switch2_v0", backend)
    assert_array_equal(env.reset(), f32([[0.0, 0.17], [0.0, 0.83]]))
    s = env.step([1, 1])  # agent 0 onto (0,0) (agent 1's target); agent 1 into the wall at (0,4)
    assert_array_equal(s.obs, f32([[0.0, 0.0], [0.0, 0.83]]))
    assert s.rewards == pytest.approx([-0.1, -0.1])
    assert s.done == [False, False]


def test_switch4_reset(backend: str) -> None:
    assert_array_equal(Runner("switch4_v0", backend).reset(), f32(SWITCH4_RESET))


def test_full_observable_reset(backend: str) -> None:
    obs = Runner("switch4_v0", backend, full_observable=True).reset()
    flat = [x for o in SWITCH4_RESET for x in o]
    assert_array_equal(obs, f32([flat] * 4))


def test_s1_walls(backend: str) -> None:
    env = Runner("switch4_v0", backend)
    reset = env.reset()
    s = env.step([3, 1, 3, 1])
    assert_array_equal(s.obs, reset)
    assert s.rewards == pytest.approx([-0.1] * 4)
    assert s.done == [False] * 4


def test_s2_agent0_alone(backend: str) -> None:
    plan = [[a, 4, 4, 4] for a in (0, 3, 3, 3, 3, 3, 2)]
    steps, _ = play(Runner("switch4_v0", backend), plan)
    expected = [(0.5, 0.17), (0.5, 0.33), (0.5, 0.5), (0.5, 0.67), (0.5, 0.83), (0.5, 1.0), (0.0, 1.0)]
    for s, pos in zip(steps, expected, strict=True):
        assert_array_equal(s.obs[0], f32(pos))
    for s in steps[:6]:
        assert s.rewards == pytest.approx([-0.1] * 4)
        assert s.done == [False] * 4
    assert steps[6].rewards == pytest.approx([5, -0.1, -0.1, -0.1])
    assert steps[6].done == [True, False, False, False]
    assert steps[6].arrived == [True, False, False, False]
    assert steps[5].arrived == [False] * 4


def test_s3_phantom_blocks(backend: str) -> None:
    steps, _ = play(Runner("switch2_v0", backend), [[0, 4], [0, 4]])
    for s in steps:
        assert_array_equal(s.obs, f32([[0.5, 0.17], [0.0, 0.83]]))
        assert s.rewards == pytest.approx([-0.1, -0.1])


def test_s3_without_phantoms(backend: str) -> None:
    steps, _ = play(Runner("switch2_v0", backend, phantom_blockers=False), [[0, 4], [0, 4]])
    assert_array_equal(steps[-1].obs, f32([[1.0, 0.17], [0.0, 0.83]]))


def test_s4_corridor_deadlock(backend: str) -> None:
    plan = [[0, 0, 4, 4], [3, 1, 4, 4], [3, 1, 4, 4], [3, 1, 4, 4]]
    steps, _ = play(Runner("switch4_v0", backend), plan)
    assert_array_equal(steps[0].obs[:2], f32([[0.5, 0.17], [0.5, 0.83]]))
    assert_array_equal(steps[1].obs[:2], f32([[0.5, 0.33], [0.5, 0.67]]))
    assert_array_equal(steps[2].obs[:2], f32([[0.5, 0.5], [0.5, 0.67]]))
    assert_array_equal(steps[3].obs[:2], f32([[0.5, 0.5], [0.5, 0.67]]))
    for s in steps:
        assert s.rewards == pytest.approx([-0.1] * 4)


def test_s5_switch2_crossing(backend: str) -> None:
    plan = [[0, 4]] + [[3, 4]] * 5 + [[2, 0]] + [[4, 1]] * 5 + [[4, 2]]
    steps, returns = play(Runner("switch2_v0", backend), plan)
    assert steps[6].rewards == pytest.approx([5, -0.1])
    assert steps[6].done == [True, False]
    assert_array_equal(steps[6].obs, f32([[0.0, 1.0], [0.5, 0.83]]))
    for s in steps[7:12]:  # the done agent 0 is still charged the step cost
        assert s.rewards == pytest.approx([-0.1, -0.1])
        assert s.done == [True, False]
        assert not any(s.terminated)
    assert steps[12].rewards == pytest.approx([-0.1, 5])
    assert steps[12].done == [True, True]
    assert steps[12].terminated == [True, True]
    assert steps[12].truncated == [False, False]
    assert_array_equal(steps[12].obs, f32([[0.0, 1.0], [0.0, 0.0]]))
    assert returns == pytest.approx([3.8, 3.8], abs=1e-5)


def test_done_agent_ignores_actions(backend: str) -> None:
    # Agent 0 arrives at step 7, then tries to leave.
    plan = [[0, 4]] + [[3, 4]] * 5 + [[2, 4]] + [[1, 4], [0, 4]]
    steps, _ = play(Runner("switch2_v0", backend), plan)
    for s in steps[6:]:
        assert_array_equal(s.obs[0], f32([0.0, 1.0]))


def test_s6_optimal_switch2(backend: str) -> None:
    plan = [[0, 0], [3, 0], [3, 0], [3, 2], [3, 0], [3, 0], [0, 1], [0, 1], [0, 1], [0, 1], [2, 1], [2, 2]]
    steps, returns = play(Runner("switch2_v0", backend), plan)
    assert steps[-1].rewards == pytest.approx([5, 5])
    assert steps[-1].terminated == [True, True]
    assert all(not any(s.done) for s in steps[:-1])
    assert returns == pytest.approx([3.9, 3.9], abs=1e-5)
    assert sum(returns) == pytest.approx(7.8, abs=1e-5)


def test_s7_optimal_switch4(backend: str) -> None:
    plan = [
        [0, 0, 0, 0], [0, 1, 0, 2], [0, 1, 0, 1], [0, 1, 0, 1], [1, 1, 0, 1], [0, 2, 0, 1], [2, 0, 1, 0],
        [3, 0, 2, 0], [3, 1, 3, 0], [3, 0, 3, 0], [3, 0, 3, 0], [3, 0, 3, 0], [2, 0, 3, 0], [0, 0, 0, 0],
        [3, 0, 3, 1],
    ]  # fmt: skip
    steps, returns = play(Runner("switch4_v0", backend), plan)
    assert steps[-1].rewards == pytest.approx([5, -0.1, 5, 5])
    assert steps[-1].done == [True] * 4
    assert steps[-1].terminated == [True] * 4
    assert returns == pytest.approx([3.6] * 4, abs=1e-5)
    assert sum(returns) == pytest.approx(14.4, abs=1e-4)


def test_s8_idle_time_limit(backend: str) -> None:
    steps, returns = play(Runner("switch4_v0", backend), [[4, 4, 4, 4]] * 50)
    assert all(not any(s.done) for s in steps[:49])
    assert steps[49].done == [True] * 4
    assert steps[49].truncated == [True] * 4
    assert steps[49].terminated == [False] * 4
    assert steps[49].arrived == [False] * 4  # done by the time limit, not arrived
    if backend == "parallel":  # float64 rewards: the same float sum as the original
        assert returns == [-4.999999999999998] * 4
    else:
        assert returns == pytest.approx([-5.0] * 4, abs=1e-5)


def test_arrival_on_last_step_is_termination(backend: str) -> None:
    # S6 plan stretched: wait 38 steps, then play the 12-step optimal plan; both arrive exactly at step 50.
    plan = [[4, 4]] * 38 + [
        [0, 0], [3, 0], [3, 0], [3, 2], [3, 0], [3, 0], [0, 1], [0, 1], [0, 1], [0, 1], [2, 1], [2, 2],
    ]  # fmt: skip
    steps, returns = play(Runner("switch2_v0", backend), plan)
    assert steps[-1].rewards == pytest.approx([5, 5])
    assert steps[-1].terminated == [True, True]
    assert steps[-1].truncated == [False, False]
    assert returns == pytest.approx([5 - 0.1 * 49] * 2, abs=1e-5)
