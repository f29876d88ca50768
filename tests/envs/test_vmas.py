"""VMAS scenarios as ``vmas:SCENARIO`` (`matrl.envs.vmas_core.VmasCore`): the batched-core contract, seeding,
auto-reset, discrete and continuous actions, heterogeneous agents, one-line errors, and short trainings.

Skipped when the optional ``vmas`` package (``matrl[vmas]``) is not installed; the "not installed" message is
tested without it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matrl.envs import registry
from matrl.envs.core import BatchedCore
from matrl.envs.vmas_core import import_vmas

vmas = pytest.importorskip("vmas")

from matrl.cli import main  # noqa: E402
from matrl.envs import make_vector_env  # noqa: E402
from matrl.envs.vmas_core import VmasCore  # noqa: E402

SPREAD = "vmas:simple_spread"


def _trace(core: Any, steps: int, seed: int) -> list[tuple[bytes, bytes]]:
    """Observations and rewards of ``steps`` steps with seeded random actions."""
    rng = np.random.default_rng(seed)
    trace = [(core.reset().tobytes(), b"")]
    for _ in range(steps):
        if core.action_spec.continuous:
            actions = rng.uniform(-1, 1, (core.num_envs, core.n_agents, core.action_spec.dim))
        else:
            actions = rng.integers(0, core.n_actions, (core.num_envs, core.n_agents))
        result = core.step(actions)
        trace.append((result.obs.tobytes(), result.rewards.tobytes()))
    return trace


def test_simple_spread_is_a_batched_core_with_the_step_contract() -> None:
    core = make_vector_env(SPREAD, 5, seed=1)
    assert isinstance(core, VmasCore) and isinstance(core, BatchedCore)
    assert (core.n_agents, core.obs_dim, core.n_actions, core.max_steps) == (3, 14, 9, 25)
    assert core.agent_ids == ("agent_0", "agent_1", "agent_2") and not core.snapshots
    obs = core.reset()
    assert obs.shape == (5, 3, 14) and obs.dtype == np.float32
    returns = np.zeros((5, 3))
    for t in range(1, 26):
        result = core.step(np.full((5, 3), t % 9))
        returns += result.rewards
        assert result.rewards.shape == (5, 3) and result.rewards.dtype == np.float32
        assert np.isfinite(result.obs).all() and np.isfinite(result.rewards).all()
        assert (result.episode_length == t).all()
        np.testing.assert_allclose(result.episode_return, returns, rtol=1e-6)
        # simple_spread's reward is shared: every agent gets the team's
        assert (result.rewards == result.rewards[:, :1]).all()
        assert not result.terminated.any()
    assert result.episode_over.all() and result.truncated.all()
    assert not np.array_equal(result.obs, result.final_obs)  # the reset observation, after the last one
    after = core.step(np.zeros((5, 3), dtype=np.int64))
    assert (after.episode_length == 1).all()
    with pytest.raises(NotImplementedError, match="cannot snapshot"):
        core.state_dict()


def test_a_seed_repeats_and_another_differs_and_cores_do_not_perturb_each_other() -> None:
    first = _trace(VmasCore(4, "simple_spread", seed=7), 30, seed=0)
    assert _trace(VmasCore(4, "simple_spread", seed=7), 30, seed=0) == first
    assert _trace(VmasCore(4, "simple_spread", seed=8), 30, seed=0) != first
    # VMAS keeps one random state per process; each core swaps its own in, so a core stepped between the
    # steps of another (its auto-resets drawing start states) leaves that one's trajectory unchanged
    solo, inter = VmasCore(4, "simple_spread", seed=7), VmasCore(4, "simple_spread", seed=7)
    other = VmasCore(4, "simple_spread", seed=9)
    solo.reset(), inter.reset(), other.reset()
    rng = np.random.default_rng(1)
    for _ in range(60):  # crosses two auto-resets, which draw new start states
        act = rng.integers(0, 9, (4, 3))
        other.step(act)
        np.testing.assert_array_equal(solo.step(act).obs, inter.step(act).obs)
        other.step(act)


def test_game_termination_auto_resets_only_the_ended_copies() -> None:
    core = VmasCore(8, "balance", seed=0, max_steps=200)
    core.reset()
    rng = np.random.default_rng(0)
    for _ in range(200):
        result = core.step(rng.integers(0, core.n_actions, (8, core.n_agents)))
        ended = result.episode_over
        if ended.any() and not ended.all():
            assert result.terminated[ended].all() and not result.truncated[ended].any()
            np.testing.assert_array_equal(result.obs[~ended], result.final_obs[~ended])
            assert (result.episode_length[ended] < 200).all()
            assert not np.array_equal(result.obs[ended], result.final_obs[ended])
            nxt = core.step(np.zeros((8, core.n_agents), dtype=np.int64))
            assert (nxt.episode_length[ended] == 1).all()
            assert (nxt.episode_length[~ended] == result.episode_length[~ended] + 1).all()
            return
    pytest.fail("no copy of balance ended on its own within 200 random steps")


def test_reset_at_of_some_copies_leaves_the_others_alone() -> None:
    core = VmasCore(4, "simple_spread", seed=0)
    obs = core.reset()
    core._reset_copies(np.array([1, 3]), None)
    fresh = core._reset_observation(np.arange(4))
    np.testing.assert_array_equal(fresh[[0, 2]], obs[[0, 2]])
    assert not np.array_equal(fresh[[1, 3]], obs[[1, 3]])


def test_continuous_actions_are_boxes_clamped_into_their_bounds() -> None:
    core = make_vector_env(SPREAD, 3, continuous_actions=True)
    spec = core.action_spec
    assert spec.continuous and spec.dim == 2 and spec.mask.all()
    np.testing.assert_array_equal(spec.low, -np.ones((3, 2))) and np.testing.assert_array_equal(spec.high, 1)
    assert registry.env_capabilities(SPREAD, {"continuous_actions": True}).action_kind == "continuous"
    assert registry.env_capabilities(SPREAD).action_kind == "discrete"
    core.reset()
    result = core.step(np.full((3, 3, 2), 50.0))  # out of bounds: clamped by VMAS
    assert np.isfinite(result.obs).all()
    with pytest.raises(
        ValueError, match=r"invalid action nan for env 1, agent_2 \(entry 0\); allowed: finite"
    ):
        bad = np.zeros((3, 3, 2))
        bad[1, 2, 0] = np.nan
        core.step(bad)
    assert _trace(VmasCore(3, "simple_spread", continuous_actions=True, seed=2), 10, 0) == _trace(
        VmasCore(3, "simple_spread", continuous_actions=True, seed=2), 10, 0
    )


def test_heterogeneous_agents_are_padded_and_masked() -> None:
    adversary = VmasCore(2, "simple_adversary")
    assert adversary.agent_ids[0].startswith("adversary") and adversary._obs_sizes == [8, 10, 10]
    obs = adversary.reset()
    assert obs.shape == (2, 3, 10) and (obs[:, 0, 8:] == 0).all()
    result = adversary.step(np.zeros((2, 3), dtype=np.int64))
    assert (result.obs[:, 0, 8:] == 0).all() and not (result.obs[:, 1, 8:] == 0).all()
    listener = VmasCore(2, "simple_speaker_listener")
    listener.reset()
    counts = listener.action_spec.counts
    assert len(counts) == 2 and counts[0] != counts[1] and listener.n_actions == max(counts)
    small = int(np.argmin(counts))
    act = np.zeros((2, 2), dtype=np.int64)
    act[1, small] = counts[small]
    with pytest.raises(
        ValueError, match=f"invalid action {counts[small]} for env 1, .*0..{counts[small] - 1}"
    ):
        listener.step(act)
    continuous = VmasCore(2, "simple_speaker_listener", continuous_actions=True)
    assert not continuous.action_spec.mask.all()  # agents of different action sizes, padded


def test_scenario_kwargs_go_to_the_scenario() -> None:
    core = make_vector_env(SPREAD, 2, n_agents=5, max_steps=7)
    assert core.n_agents == 5 and core.max_steps == 7 and core.obs_dim == 4 + 2 * 5 + 2 * 4
    assert VmasCore(2, "balance").max_steps == 100


def test_bad_ids_and_kwargs_are_one_line() -> None:
    with pytest.raises(ValueError, match=r"unknown VMAS scenario 'nope' .*simple_spread.*transport") as err:
        registry.check_env_id("vmas:nope")
    assert "\n" not in str(err.value)
    with pytest.raises(
        ValueError, match=r"unknown env_kwargs \['foo'\] for vmas:simple_spread .*n_agents, obs_agents"
    ):
        make_vector_env(SPREAD, 2, foo=1)
    with pytest.raises(
        ValueError, match=r"env_kwargs \['dict_spaces'\] are not allowed for vmas:simple_spread"
    ):
        make_vector_env(SPREAD, 2, dict_spaces=True)
    with pytest.raises(ValueError, match="num_workers=2 is not allowed for vmas:simple_spread"):
        make_vector_env(SPREAD, 2, num_workers=2)
    caps = registry.env_capabilities(SPREAD)
    assert not caps.snapshots and caps.seeding and not caps.frames and not caps.worker_processes


def test_missing_vmas_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def no_vmas(name: str, *args: Any) -> Any:
        if name == "vmas":
            raise ModuleNotFoundError("No module named 'vmas'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_vmas)
    with pytest.raises(ValueError, match=r"install matrl\[vmas\]"):
        import_vmas()
    with pytest.raises(ValueError, match=r"install matrl\[vmas\]"):
        registry.check_env_id(SPREAD)


@pytest.mark.parametrize("algo", ["il", "matrl"])
def test_short_training_evaluation_and_resume(
    algo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    sizes = ["--batch-size", "500", "--num-envs", "20", "--hidden", "16", "--threads", "1", "--no-progress"]
    main(["train", "--env", SPREAD, "--algo", algo, *sizes, "--total-steps", "2000", "--out", str(run)])
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 4
    main(["evaluate", str(run), "--episodes", "3"])
    assert f"({SPREAD}, iteration 4, 2000 env steps): 3 episodes" in capsys.readouterr().out
    main(["train", "--out", str(run), "--resume", "--total-steps", "3000", "--no-progress"])
    assert "note: resumed with fresh episodes of vmas:simple_spread" in capsys.readouterr().err
    assert len((run / "metrics.csv").read_text().splitlines()) == 1 + 6
