"""`matrl crossplay`: every checkpoint of one Pong run against every one of another (paper Fig. 6), and
`matrl versus-random`: every checkpoint against a uniformly random player."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from matrl.algorithm import build_actor_critic
from matrl.checkpoint import load_model, model_path, save_model
from matrl.cli import main
from matrl.config import CNNConfig, TrainConfig, preset
from matrl.envs import make_vector_env
from matrl.eval.crossplay import crossplay, load_run, play_games, write_outputs
from matrl.eval.versus_random import read_csv as read_versus_random_csv
from matrl.eval.versus_random import versus_random
from matrl.eval.versus_random import write_outputs as write_versus_random

#: 80 steps of 4 frames: long enough for a few points and serve penalties, so that scores are not all 0.
ENV_KWARGS = {"preprocessing": "atari", "max_steps": 80}


def config(algo: str, **changes: object) -> TrainConfig:
    fields: dict[str, object] = {
        "hidden": (8,),
        "cnn": CNNConfig(channels=(4, 4), kernels=(8, 4), strides=(4, 2)),
        "env_kwargs": dict(ENV_KWARGS),
    }
    fields.update(changes)
    return dataclasses.replace(preset("pong_v3"), algo=algo, **fields)  # type: ignore[arg-type]


def write_run(root: Path, algo: str, iterations: tuple[int, ...], seed: int, **changes: object) -> Path:
    """A run directory holding only model checkpoints with random (strongly non-uniform) policies."""
    c = config(algo, **changes)
    core = make_vector_env("pong_v3", 1, **c.env_kwargs)
    for k, iteration in enumerate(iterations):
        torch.manual_seed(seed * 100 + k)
        net = build_actor_critic(c, 2, core.obs_dim, core.action_spec, obs_shape=core.obs_shape)
        with torch.no_grad():
            for p in net.policy.parameters():
                p.mul_(30.0)
        save_model(model_path(root / algo, iteration), net, c.to_dict(), iteration, iteration * 4000)
    return root / algo


def assert_one_line_cli_error(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`matrl ARGV` exits with status 2 and one stderr line ``matrl: error: ...`` matching ``message``."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("matrl: error: ")
    assert re.search(message, err), err


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("runs")
    return write_run(root, "matrl", (5, 10), seed=1), write_run(root, "il", (5, 10), seed=2)


def test_a_run_against_itself_with_both_seats_is_antisymmetric(runs: tuple[Path, Path]) -> None:
    matrl, _ = runs
    result = crossplay(matrl, matrl, episodes=2, both_seats=True)
    s = result.score
    assert s.shape == (2, 2) and np.isfinite(s).all()
    assert np.array_equal(s, -s.T) and np.array_equal(np.diagonal(s), [0.0, 0.0])
    summary = result.summary
    assert summary["pairs"] == 1 and summary["triples"] == 0 and summary["cyclic_triples"] == 0
    # One pair (checkpoint 10 against 5): its advantage is the cell itself, since the matrix is antisymmetric.
    assert summary["mean_later_advantage"] == s[1, 0]
    assert summary["later_beats_earlier"] == float(s[1, 0] > 0)
    assert summary["later_ties_earlier"] == float(s[1, 0] == 0)
    assert summary["episodes_per_cell"] == 4 and summary["iterations_a"] == [5, 10]
    assert summary["env_steps_b"] == [20_000, 40_000]


def test_swapping_the_runs_negates_the_transpose(runs: tuple[Path, Path]) -> None:
    matrl, il = runs
    ab = crossplay(matrl, il, episodes=2, both_seats=True)
    ba = crossplay(il, matrl, episodes=2, both_seats=True)
    assert np.array_equal(ab.score, -ba.score.T)
    assert np.abs(ab.score).max() > 0  # the games were long enough for points or penalties
    assert np.array_equal(ab.return_a, ba.return_b.T)
    s = ab.summary
    assert s["a_wins"] + s["b_wins"] + s["ties"] == pytest.approx(1.0)
    assert s["a_wins"] == float((ab.score > 0).mean())
    assert s["diagonal_mean"] == float(np.diagonal(ab.score).mean())


def test_fixed_seats_score_and_player_returns(runs: tuple[Path, Path]) -> None:
    matrl, il = runs
    result = crossplay(matrl, il, episodes=2, max_steps=10)  # too short for anything to happen
    assert result.score.shape == (2, 2) and np.isfinite(result.score).all()
    assert np.array_equal(result.score, (result.return_a - result.return_b) / 2)
    assert np.array_equal(result.length, np.full((2, 2), 10.0)) and result.truncated.min() == 1.0
    # Cells depend only on their two checkpoints: the last checkpoints alone give the same corner cell.
    last = crossplay(matrl, il, episodes=2, max_steps=10, every=2)
    assert last.summary["iterations_a"] == [10] and last.score[0, 0] == result.score[1, 1]


def test_outputs_csv_heatmap_and_summary(runs: tuple[Path, Path], tmp_path: Path) -> None:
    matrl, il = runs
    result = crossplay(matrl, il, episodes=1, max_steps=10)
    paths = write_outputs(result, tmp_path / "out")
    with paths["csv"].open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["a_iteration", "b_5", "b_10"] and [r[0] for r in rows[1:]] == ["5", "10"]
    assert np.array_equal(np.array([[float(v) for v in r[1:]] for r in rows[1:]]), result.score)
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads(paths["summary"].read_text())
    assert summary["matrices"]["score"] == result.score.tolist() and summary["label_b"] == "il seed 0"
    assert "A wins" in paths["markdown"].read_text()


def test_cli_writes_the_files_and_errors_are_one_line(
    runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    matrl, il = runs
    out = tmp_path / "cli"
    main(["crossplay", str(matrl), str(il), "--episodes", "1", "--max-steps", "5", "--out", str(out)])
    assert {p.name for p in out.iterdir()} >= {"crossplay.csv", "crossplay.png", "summary.json", "summary.md"}
    assert "wrote" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    paper = write_run(tmp_path, "il", (1,), seed=3, env_kwargs={"preprocessing": "paper"})
    wide = write_run(tmp_path / "wide", "il", (1,), seed=3, hidden=(16,))
    for args, message in (
        ([str(empty), str(il)], "no model checkpoints under"),
        ([str(matrl), str(paper)], "runs differ in their environment"),
        ([str(matrl), str(wide)], "the networks of .* differ"),
        ([str(matrl), str(il), "--episodes", "0"], "episodes=0 is not allowed"),
    ):
        assert_one_line_cli_error(["crossplay", *args, "--out", str(tmp_path / "bad")], message, capsys)


def test_transitivity_summary_known_answers() -> None:
    from matrl.eval.crossplay import _transitivity

    ladder = np.subtract.outer(np.arange(4.0), np.arange(4.0))  # checkpoint i beats j by i - j
    t = _transitivity(ladder)
    assert (t["pairs"], t["later_beats_earlier"], t["triples"], t["cyclic_triples"]) == (6, 1.0, 4, 0)
    rps = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])  # 1 beats 0, 2 beats 1, 0 beats 2
    t = _transitivity(rps)
    assert t["later_beats_earlier"] == pytest.approx(2 / 3) and t["cyclic_triples"] == 1
    one_seat = np.array([[0.0, 2.0], [4.0, 1.0]])  # fixed seats: the pair's advantage averages both orders
    assert _transitivity(one_seat)["mean_later_advantage"] == 1.0


# ------------------------------------------------------------------------------------ against random
class RecordingCore:
    """A vector env that remembers every joint action it was given (to look at the random seat's choices)."""

    def __init__(self, core: object) -> None:
        self.core = core
        self.actions: list[np.ndarray] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.core, name)

    def step(self, actions: np.ndarray) -> object:
        self.actions.append(np.array(actions))
        return self.core.step(actions)  # type: ignore[attr-defined]


def test_the_random_seat_picks_uniformly_and_leaves_the_other_seat_s_samples_alone(
    runs: tuple[Path, Path],
) -> None:
    matrl, _ = runs
    run = load_run(matrl)
    core = make_vector_env("pong_v3", 4, **{**run.config.env_kwargs, "seed": 0})
    net = build_actor_critic(run.config, 2, core.obs_dim, core.action_spec, obs_shape=core.obs_shape)
    net.load_state_dict(load_model(run.checkpoints[0].path)[0])
    plain, mixed = RecordingCore(core), RecordingCore(core)
    play_games(plain, net, seed=0, greedy=False)
    play_games(mixed, net, seed=0, greedy=False, random_seat=1)
    random_choices = np.concatenate([a[:, 1] for a in mixed.actions])
    counts = np.bincount(random_choices, minlength=core.action_spec.n)
    assert counts.size == 6 and random_choices.size == 320
    assert counts.min() > 25 and counts.max() < 85, counts  # about 53 each; the scaled network is far from it
    network_choices = np.concatenate([a[:, 1] for a in plain.actions])
    assert np.bincount(network_choices, minlength=6).max() > 100  # the same seat without the random player
    assert np.array_equal(
        plain.actions[0][:, 0], mixed.actions[0][:, 0]
    )  # seat 0 drew the same first samples


def test_versus_random_scores_runs_with_different_pipelines(runs: tuple[Path, Path], tmp_path: Path) -> None:
    matrl, _ = runs
    paper = write_run(tmp_path, "il", (3, 6), seed=4, env_kwargs={"preprocessing": "paper", "max_steps": 80})
    result = versus_random([matrl, paper], episodes=2, max_steps=300, labels=["matrl", "il paper"])
    assert [(r["label"], r["iteration"]) for r in result.rows] == [
        ("matrl", 5),
        ("matrl", 10),
        ("il paper", 3),
        ("il paper", 6),
    ]
    for row in result.rows:
        assert row["score"] == pytest.approx((row["score_seat_0"] + row["score_seat_1"]) / 2)
        assert row["episode_length"] <= 300 and 0.0 <= row["truncated_share"] <= 1.0
    assert any(r["score"] != 0 for r in result.rows)  # 300 steps are enough for points or penalties
    # A checkpoint's row depends only on it and the seed: the last checkpoint alone gives the same row, and
    # so does the first one alone (the checkpoints up to its env steps).
    again = versus_random([matrl], episodes=2, every=2, max_steps=300, labels=["matrl"])
    assert again.rows == [result.rows[1]]
    first = versus_random([matrl], episodes=2, max_steps=300, labels=["matrl"], until_steps=20_000)
    assert first.rows == [result.rows[0]]
    with pytest.raises(ValueError, match="until_steps=100 is not allowed"):
        versus_random([matrl], until_steps=100)
    paths = write_versus_random(result, tmp_path / "vr")
    with paths["csv"].open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["score"]) for r in rows] == [r["score"] for r in result.rows]
    assert read_versus_random_csv(paths["csv"]) == result.rows  # numbers survive the round trip exactly
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert '{"preprocessing": "paper", "max_steps": 80}' in paths["markdown"].read_text()


def test_versus_random_cli_and_one_line_errors(
    runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    matrl, il = runs
    out = tmp_path / "cli"
    main(["versus-random", str(matrl), str(il), "--episodes", "1", "--max-steps", "5", "--out", str(out)])
    assert {p.name for p in out.iterdir()} == {"versus_random.csv", "versus_random.png", "summary.md"}
    assert "wrote" in capsys.readouterr().out
    for args, message in (
        ([str(matrl), "--episodes", "0"], "episodes=0 is not allowed"),
        ([str(matrl), str(il), "--labels", "only-one"], "got 1 labels for 2 runs"),
        ([str(tmp_path / "missing")], "no model checkpoints under"),
    ):
        assert_one_line_cli_error(["versus-random", *args, "--out", str(tmp_path / "bad")], message, capsys)


def test_an_env_with_more_than_two_players_is_refused_in_one_line(tmp_path: Path) -> None:
    c = dataclasses.replace(preset("switch4_v0"), hidden=(4,))
    core = make_vector_env("switch4_v0", 1)
    net = build_actor_critic(c, 4, core.obs_dim, core.action_spec)
    save_model(model_path(tmp_path / "switch", 1), net, c.to_dict(), 1, 100)
    for play in (lambda run: crossplay(run, run, episodes=1), lambda run: versus_random([run], episodes=1)):
        with pytest.raises(ValueError, match="need a two-player env; switch4_v0 has 4 agents"):
            play(tmp_path / "switch")
