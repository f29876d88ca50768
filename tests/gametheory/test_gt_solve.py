"""The entry point: verified results, explicit and counted fallbacks, input validation."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from gt_helpers import float_games, integer_games, random_game
from hypothesis import given, settings

import matrl.gametheory.solver as solve_module
from matrl.gametheory import KEEP_CURRENT, METHODS, NashResult, SolverStats, regrets, solve


def _check(result: NashResult, game: np.ndarray) -> None:
    n = game.shape[0]
    assert result.profile.shape == (n,) and result.regrets.shape == (n,)
    np.testing.assert_allclose(result.regrets, regrets(game, result.profile), atol=1e-12 * np.abs(game).max())
    assert result.nash_conv == pytest.approx(result.regrets.sum(), abs=1e-15)
    if result.verified:
        assert result.regrets.max() <= 1e-9 * np.abs(game).max()


@settings(max_examples=60)
@given(float_games())
def test_default_solve_is_verified_on_continuous_games(game: np.ndarray) -> None:
    result = solve(game)
    _check(result, game)
    assert result.verified and not result.fallback and result.failure is None
    assert result.method == result.requested_method == "exact"
    assert result.num_equilibria >= 1


@settings(max_examples=60)
@given(integer_games())
def test_default_solve_is_verified_on_tie_games(game: np.ndarray) -> None:
    result = solve(game)
    _check(result, game)
    assert result.verified and not result.fallback


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_all_zero_meta_game_keeps_current_policies(n: int) -> None:
    # predicted == current: every entry of the meta-game is exactly zero
    result = solve(np.zeros((n,) + (2,) * n))
    np.testing.assert_array_equal(result.profile, np.ones(n))
    assert result.verified and result.method == "exact" and not result.fallback


def test_result_is_read_only() -> None:
    result = solve(random_game(0, 3))
    with pytest.raises(ValueError):
        result.profile[0] = 0.5


def test_tiny_payoffs() -> None:
    game = random_game(4, 4)
    a, b = solve(game), solve(game * 1e-8)
    np.testing.assert_allclose(a.profile, b.profile, atol=1e-9)
    assert b.verified


def test_fallback_when_the_exact_solver_fails(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> tuple[np.ndarray, np.ndarray, int]:
        raise solve_module.SolverFailure("simulated")

    monkeypatch.setitem(solve_module._SOLVERS, "exact", broken)
    stats = SolverStats()
    game = random_game(1, 3)
    with caplog.at_level(logging.WARNING, logger="matrl.gametheory"):
        result = solve(game, stats=stats)
    _check(result, game)
    assert result.fallback and result.method == "replicator" and result.verified
    assert "exact: simulated" in (result.failure or "")
    assert any("simulated" in record.getMessage() for record in caplog.records)
    assert stats.as_dict()["failures/exact"] == 1 and stats.fallbacks == 1


def test_keep_current_when_every_solver_fails(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> tuple[np.ndarray, np.ndarray, int]:
        raise solve_module.SolverFailure("simulated")

    for name in METHODS:
        monkeypatch.setitem(solve_module._SOLVERS, name, broken)
    stats = SolverStats()
    game = random_game(2, 3)
    with caplog.at_level(logging.WARNING, logger="matrl.gametheory"):
        result = solve(game, stats=stats)
    _check(result, game)
    np.testing.assert_array_equal(result.profile, np.ones(3))
    assert result.method == KEEP_CURRENT and result.fallback and result.num_equilibria == 0
    assert result.failure == "exact: simulated; replicator: simulated"
    assert result.verified == bool(result.regrets.max() <= 1e-9 * np.abs(game).max())
    assert stats.keep_current == 1 and stats.calls == 1
    assert any("keeping the current policies" in record.getMessage() for record in caplog.records)


def test_unverified_answers_are_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong(game: np.ndarray, n: int, *args: object) -> tuple[np.ndarray, np.ndarray, int]:
        profile = np.full(n, 0.5)
        return profile, regrets(game, profile), 1

    monkeypatch.setitem(solve_module._SOLVERS, "cma", wrong)
    game = random_game(5, 2)
    result = solve(game, method="cma", fallbacks=())
    assert result.method == KEEP_CURRENT and "cma: regret" in (result.failure or "")
    result = solve(game, method="cma")
    assert result.method == "exact" and result.fallback and result.verified


def test_too_many_players_falls_back() -> None:
    game = random_game(0, 7)
    result = solve(game)
    assert result.fallback and result.method != "exact" and "up to 6 players" in (result.failure or "")
    _check(result, game)
    result = solve(game, selection="first")
    assert result.method == "exact" and result.verified
    result = solve(random_game(0, 9), selection="first")
    assert result.fallback and "up to 8" in (result.failure or "")


def test_stats_count_calls() -> None:
    stats = SolverStats()
    for seed in range(5):
        solve(random_game(seed, 2), stats=stats)
    assert stats.as_dict() == {"calls": 5, "fallbacks": 0, "keep_current": 0, "method/exact": 5}


@pytest.mark.parametrize(
    ("payoffs", "message"),
    [
        (np.full((2, 2, 2), np.nan), r"payoffs\[0, 0, 0\] = nan is not finite"),
        (
            np.where(np.arange(8).reshape(2, 2, 2) == 5, -np.inf, 0.0),
            r"payoffs\[1, 0, 1\] = -inf is not finite",
        ),
        (np.zeros((3, 2, 2)), r"shape \(3, 2, 2\) are not 2-player"),
        (np.zeros((2, 3, 3)), r"shape \(2, 3, 3\)"),
        (np.zeros(2), r"shape \(2,\)"),
        ([["a", "b"], ["c", "d"]], "must be an array of real numbers"),
        (np.ones((2, 2, 2), dtype=complex), "must be an array of real numbers"),
    ],
)
def test_bad_payoffs(payoffs: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        solve(payoffs)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "lemke"}, "method = 'lemke' is not allowed; expected one of exact, cma"),
        ({"selection": "best"}, "selection = 'best' is not allowed"),
        ({"fallbacks": ("gnm",)}, "fallback 'gnm' is not allowed"),
        ({"rtol": -1.0}, "rtol = -1.0 is not allowed"),
        ({"rtol": float("nan")}, "rtol = nan is not allowed"),
        ({"rng": 3}, "rng = 3 is not allowed"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        solve(random_game(0, 2), **kwargs)
    assert "\n" not in str(info.value)
