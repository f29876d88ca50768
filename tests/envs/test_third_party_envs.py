"""Third-party PettingZoo envs: ids (``pettingzoo:MODULE``, `register_env`, entry points), heterogeneous
agents in the adapter and the learner, one-line errors, and training / evaluate / resume end to end."""

from __future__ import annotations

import csv
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from pz_toys import Team, team

from matrl.cli import main
from matrl.config import TrainConfig
from matrl.envs import ParallelEnvVectorCore, make_env, make_vector_env, register_env
from matrl.envs import registry as env_registry
from matrl.envs.spec import ActionSpec
from matrl.eval.evaluate import evaluate
from matrl.learners.actor_critic import ActorCritic
from matrl.training import train

# A module id that needs nothing but this test directory on sys.path (pytest puts it there).
TEAM_ID = "pettingzoo:pz_toys:team"


@pytest.fixture(autouse=True)
def _registered() -> Any:
    register_env("team_test", team)
    yield
    env_registry._REGISTERED.pop("team_test", None)


def test_heterogeneous_observations_are_zero_padded_with_an_optional_one_hot_id() -> None:
    core = make_vector_env("team_test", 2, seed=5, obs_sizes=[3, 5], one_hot_agent_id=True)
    assert isinstance(core, ParallelEnvVectorCore)
    assert (core.n_agents, core.obs_dim, core.n_actions) == (2, 5 + 2, 4)
    obs = core.reset()
    targets = [[e.target["a0"], e.target["a1"]] for e in core.envs]  # type: ignore[attr-defined]
    for k in range(2):
        np.testing.assert_array_equal(obs[k, 0], [targets[k][0], 0, 0, 0, 0, 1, 0])  # a0: 3 values + padding
        np.testing.assert_array_equal(obs[k, 1], [targets[k][1], 0, 0, 0, 0, 0, 1])
    result = core.step([[0, 3], [1, 2]])
    np.testing.assert_array_equal(result.obs[:, :, 1], np.full((2, 2), 1 / 6, dtype=np.float32))
    np.testing.assert_array_equal(result.obs[:, :, -2:], [np.eye(2)] * 2)  # the id survives every step
    plain = make_vector_env("team_test", 2, seed=5)
    assert plain.obs_dim == 5 and np.array_equal(plain.reset(), obs[..., :5])  # same seed, same episodes


def test_per_agent_action_counts_are_checked_per_agent() -> None:
    core = make_vector_env("team_test", 2, actions=[2, 4])
    assert core.action_spec.counts == (2, 4) and core.action_spec.n == 4
    core.reset()
    core.step([[1, 3], [0, 0]])
    with pytest.raises(ValueError, match=r"^invalid action 2 for env 1, a0; allowed: integers 0\.\.1$"):
        core.step([[1, 3], [2, 0]])
    same = make_vector_env("team_test", 1, actions=[3, 3])
    assert (same.action_spec.n, same.action_spec.counts) == (3, ())  # equal counts: the plain spec
    assert same.action_spec.valid_actions is None


def test_box_actions_are_padded_and_sent_in_each_agents_shape() -> None:
    core = make_vector_env("team_test", 1, actions=[[0.0, 1.0, 2], [-1.0, 1.0, 3]])
    spec = core.action_spec
    assert spec.continuous and spec.dim == 3 and core.n_actions == 3
    assert spec.mask.tolist() == [[True, True, False], [True, True, True]]
    core.reset()
    core.step(np.array([[[0.5, 0.25, 9.0], [0.1, 0.2, 0.3]]]))
    sent = core.envs[0].received[-1]  # type: ignore[attr-defined]
    assert sent["a0"].shape == (2,) and sent["a0"].dtype == np.float32 and sent["a0"].tolist() == [0.5, 0.25]
    np.testing.assert_allclose(sent["a1"], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"invalid action nan for env 0, a1 \(entry 2\); allowed: finite"):
        core.step(np.array([[[0.5, 0.25, 0.0], [0.1, 0.2, np.nan]]]))


def test_masked_logits_are_never_sampled_and_carry_no_probability() -> None:
    spec = ActionSpec.discrete_per_agent([2, 4])
    net = ActorCritic(2, 5, spec, hidden=(8,))
    with torch.no_grad():
        net.policy.output.bias[0, 0, 2:] = 50.0  # a0 would pick its invalid actions 2 and 3 if they existed
    obs = torch.randn(2, 4000, 5)
    actions, logp, _ = net.act(obs, torch.Generator().manual_seed(0))
    assert actions[0].max() <= 1 and set(actions[1].tolist()) == {0, 1, 2, 3}
    assert torch.isfinite(logp).all()
    params = net.distribution_params(obs)
    probs_a0 = torch.exp(net.head.log_prob(params, torch.full((2, 4000), 2))[0])
    assert (probs_a0 == 0).all()
    assert (net.head.mode(params)[0] <= 1).all()
    uniform = torch.zeros(2, 1, 4)
    torch.testing.assert_close(net.head.entropy(uniform)[:, 0], torch.log(torch.tensor([2.0, 4.0])))
    logp_a0 = net.head.log_prob(params, torch.zeros(2, 4000, dtype=torch.long))[0].sum()
    logp_a0.backward()
    assert (net.policy.output.bias.grad[0, 0, 2:] == 0).all()  # invalid logits take no gradient


class _Spaces(Team):
    def __init__(self, obs: spaces.Space[Any] | None = None, act: spaces.Space[Any] | None = None) -> None:
        super().__init__()
        if obs is not None:
            self._obs["a1"] = obs  # type: ignore[assignment]
        if act is not None:
            self._act["a1"] = act


@pytest.mark.parametrize(
    ("obs", "act", "message"),
    [
        (
            spaces.Dict({"x": spaces.Discrete(2)}),
            None,
            r"^agent 'a1' has observation space Dict\(.*; allowed: a Box of rank 1 or 2, or of higher rank "
            r"with at most 4096 values \(flattened to float32\)$",
        ),
        (
            spaces.Box(0, 255, (84, 84, 3), np.uint8),
            None,
            r"^agent 'a1' has observation space Box\(0, 255, \(84, 84, 3\), uint8\): image observations of "
            r"21168 values are not supported by the PettingZoo adapter \(its networks are MLPs\); allowed: a "
            r"Box of rank 1 or 2, or of higher rank with at most 4096 values",
        ),
        (
            None,
            spaces.Box(-1.0, 1.0, (2,)),
            r"^agent 'a1' has action space Box\(-1\.0, 1\.0, \(2,\), float32\) "
            r"\(agent 'a0': Discrete\(2\)\); allowed: every agent Discrete\(K\) starting at 0, or every "
            r"agent a Box with finite bounds$",
        ),
        (None, spaces.Discrete(3, start=1), r"^agent 'a1' has action space Discrete\(3, start=1\)"),
        (None, spaces.MultiDiscrete([2, 2]), r"^agent 'a1' has action space MultiDiscrete\(\[2 2\]\)"),
    ],
)
def test_unsupported_spaces_are_one_line_naming_the_agent_and_the_space(
    obs: spaces.Space[Any] | None, act: spaces.Space[Any] | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ParallelEnvVectorCore([lambda: _Spaces(obs, act)])


def test_infinite_box_actions_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^agent 'a0' has action space Box\(-inf, inf.*finite bounds \(low"):
        ParallelEnvVectorCore([lambda: Team(actions=((-np.inf, np.inf, 2), (0.0, 1.0, 1)))])


def _cli_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_bad_ids_factories_and_kwargs_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = ["--out", str(tmp_path / "run"), "--no-progress"]
    err = _cli_error(["train", "--env", "pettingzoo:no_such_pkg.env_v0", *out], capsys)
    assert (
        "cannot import module 'no_such_pkg.env_v0' (ModuleNotFoundError: No module named 'no_such_pkg')"
        in err
    )
    err = _cli_error(["train", "--env", "pettingzoo:pz_toys:nothing", *out], capsys)
    assert "pz_toys.nothing does not exist; expected a function returning a PettingZoo ParallelEnv" in err
    err = _cli_error(["train", "--env", "pettingzoo:pz_toys:np", *out], capsys)
    assert "pz_toys.np is not callable" in err
    err = _cli_error(["train", "--env", "pettingzoo:pz toys", *out], capsys)
    assert "is not allowed; expected pettingzoo:PACKAGE.MODULE[:FACTORY]" in err
    err = _cli_error(["train", "--env", "no_such_env", *out], capsys)
    assert (
        "unknown env id 'no_such_env'; known ids: checkers_v0" in err and "pettingzoo:PACKAGE.MODULE" in err
    )
    err = _cli_error(["train", "--env", TEAM_ID, "--env-kwargs", '{"colour": 3}', *out], capsys)
    assert err == (
        "matrl: error: env 'pettingzoo:pz_toys:team' refused env kwargs {'colour': 3} (TypeError: "
        "Team.__init__() got an unexpected keyword argument 'colour'); its parameters: not listed (it takes "
        "**kwargs); the adapter's own: seed, one_hot_agent_id"
    )
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match=r"its parameters: obs_sizes, actions, max_steps, leave, join"):
        make_vector_env("pettingzoo:pz_toys:Team", 1, colour=3)
    register_env("not_parallel", lambda: object())
    try:
        with pytest.raises(ValueError, match=r"^env 'not_parallel': its factory returned object; expected a"):
            make_vector_env("not_parallel", 1)
    finally:
        env_registry._REGISTERED.pop("not_parallel")
    with pytest.raises(ValueError, match=r"it is a built-in id"):
        register_env("checkers_v0", team)
    with pytest.raises(ValueError, match=r"^env name 'a:b' is not allowed"):
        register_env("a:b", team)


def test_entry_points_register_ids_for_every_process(monkeypatch: pytest.MonkeyPatch) -> None:
    point = metadata.EntryPoint(name="team_ep", value="pz_toys:team", group=env_registry.ENTRY_POINT_GROUP)

    def entry_points(**kwargs: str) -> list[metadata.EntryPoint]:
        return [point] if kwargs.get("name", point.name) == point.name else []

    monkeypatch.setattr(env_registry.metadata, "entry_points", entry_points)
    assert env_registry.env_ids()[-2:] == ("team_test", "team_ep")
    core = make_vector_env("team_ep", 2, max_steps=2)
    assert core.n_agents == 2
    assert isinstance(make_env("team_ep", render_mode="rgb_array"), Team)


def _tiny(env: str, **changes: Any) -> TrainConfig:
    fields: dict[str, Any] = {
        "env": env,
        "batch_size": 32,
        "num_envs": 4,
        "hidden": (16,),
        "total_steps": 32 * 4,
        "checkpoint_every": 2,
    }
    fields.update(changes)
    return TrainConfig(**fields)


def _rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as f:
        return [
            {k: v for k, v in r.items() if not k.startswith(("time_", "steps_per"))}
            for r in csv.DictReader(f)
        ]


def test_train_evaluate_and_resume_a_registered_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Heterogeneous agents train end to end; a seeded run reproduces; a resume restarts the episodes from a
    derived seed (the same on every resume of one checkpoint) and says so once."""
    config = _tiny("team_test", env_kwargs={"obs_sizes": [3, 5], "actions": [2, 4], "one_hot_agent_id": True})
    train(config, tmp_path / "a", progress=False)
    train(config, tmp_path / "b", progress=False)
    assert _rows(tmp_path / "a") == _rows(tmp_path / "b") and len(_rows(tmp_path / "a")) == 4
    result = evaluate(tmp_path / "a" / "checkpoints" / "iter_000004.safetensors", episodes=5)
    assert result.returns.shape == (5, 2) and result.env == "team_test"
    assert ((result.returns >= 0) & (result.returns <= 6)).all()

    cut = tmp_path / "cut"
    train(config, cut, progress=False, stop_after=2)  # checkpointed at iteration 2
    capsys.readouterr()
    for copy in ("r1", "r2"):
        (tmp_path / copy).mkdir()
        for path in cut.rglob("*"):
            target = tmp_path / copy / path.relative_to(cut)
            if path.is_dir():
                target.mkdir(exist_ok=True)
            else:
                target.write_bytes(path.read_bytes())
        train(None, tmp_path / copy, resume=True, progress=False)
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("matrl: note: resumed with fresh episodes of team (seed ")
        assert "exact for the learner (networks, optimisers, RNG), not bit-identical for the env" in err[0]
    resumed = _rows(tmp_path / "r1")
    assert resumed == _rows(tmp_path / "r2") and len(resumed) == 4
    assert resumed[:2] == _rows(tmp_path / "a")[:2]


def test_cli_trains_evaluates_and_resumes_a_pettingzoo_module_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    args = ["train", "--env", TEAM_ID, "--env-kwargs", '{"actions": [[0.0, 1.0, 2], [-1.0, 1.0, 1]]}']
    sizes = ["--batch-size", "32", "--num-envs", "4", "--hidden", "16", "--total-steps", "64"]
    main([*args, *sizes, "--checkpoint-every", "1", "--out", str(run), "--no-progress"])
    assert TrainConfig.load(run / "config.json").env == TEAM_ID
    main(["evaluate", str(run), "--episodes", "2"])
    assert "(pettingzoo:pz_toys:team, iteration 2, 64 env steps): 2 episodes" in capsys.readouterr().out
    main(["train", "--out", str(run), "--resume", "--total-steps", "96", "--no-progress"])
    assert "note: resumed with fresh episodes" in capsys.readouterr().err
    assert len(_rows(run)) == 3
    qmix = _tiny("team_test", algo="qmix", env_kwargs={"actions": [2, 4]})
    with pytest.raises(
        ValueError, match=r"^algo='qmix' is not allowed for team_test, whose agents have different"
    ):
        train(qmix, tmp_path / "qmix", progress=False)
    assert not (tmp_path / "qmix").exists()


def test_small_grid_observations_of_rank_3_are_flattened_in_row_major_order() -> None:
    core = ParallelEnvVectorCore([lambda: _Spaces(spaces.Box(0.0, 2.0, (3, 3, 2), np.float32))], seed=1)
    assert core.obs_dim == 18  # a1's 3 x 3 x 2 view; a0's 3 values are zero-padded to it
    obs = core.reset()
    env = core.envs[0]
    np.testing.assert_array_equal(obs[0, 1], env._ob("a1").reshape(-1))  # type: ignore[attr-defined]
    np.testing.assert_array_equal(obs[0, 0, :3], env._ob("a0"))  # type: ignore[attr-defined]
    assert not obs[0, 0, 3:].any()


def test_evaluate_with_random_agents_replaces_only_their_actions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A team against a random opponent: the random agent scores what uniform play scores (max_steps / K per
    episode), and the other agent's episodes are the policy's own, number for number (its observations do not
    depend on the random agent, and the random draws use their own generator)."""
    config = _tiny("team_test", env_kwargs={"actions": [2, 4]}, total_steps=64)
    train(config, tmp_path / "run", progress=False)
    model = tmp_path / "run" / "checkpoints" / "iter_000002.safetensors"
    plain = evaluate(model, episodes=400, seed=3)
    mixed = evaluate(model, episodes=400, seed=3, random_agents=(1,))
    np.testing.assert_array_equal(mixed.returns[:, 0], plain.returns[:, 0])
    assert mixed.returns[:, 1].mean() == pytest.approx(6 / 4, abs=0.15)  # 6 steps, 1 action of 4 rewarded
    assert "agent_1 (random)" in mixed.summary() and "(random)" not in plain.summary()
    with pytest.raises(ValueError, match=r"^random agent 2 is not allowed; team_test has agents 0\.\.1$"):
        evaluate(model, episodes=2, random_agents=(2,))
    main(["evaluate", str(tmp_path / "run"), "--episodes", "2", "--random-agents", "0"])
    assert "agent_0 (random)" in capsys.readouterr().out
