"""The meta-game in sample form: the same game as the 2^n table, and a solver whose answers verify."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest
from gt_helpers import coordination_game, jordan_game

from matrl.gametheory import enumerate_equilibria, games, solve
from matrl.gametheory import sample_solver as ss
from matrl.gametheory.forms import MAX_TABLE_AGENTS, TableMetaGame, mean_game, resolve_form
from matrl.gametheory.metagame import estimate_meta_game, prepare_samples
from matrl.gametheory.sample_form import SampleMetaGame
from matrl.gametheory.solver import SolverStats


def random_samples(seed: int, n: int, samples: int = 200, step: float = 0.3, masked: bool = True) -> tuple:
    """Advantages, log-ratios and (optionally) a mask of agents that sometimes do not act."""
    rng = np.random.default_rng(seed)
    adv = rng.normal(size=(n, samples))
    log_w = rng.normal(scale=step, size=(n, samples)) + 0.2 * step * adv  # steps that tend to improve
    mask = rng.random((n, samples)) > 0.2 if masked else None
    if mask is not None:
        adv[~mask] = np.nan  # never read
    return adv, log_w, mask


def profiles(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    pure = np.array(list(itertools.product((0.0, 1.0), repeat=n)))
    return [rng.random(n), rng.random((5, n)), pure, np.full(n, 0.5)]


def samples_of_table(table: np.ndarray) -> SampleMetaGame:
    """Samples whose game is exactly ``table``: one sample per set S of agents, ratios 0 on S and 1 elsewhere
    (factor rho_j on S, 1 elsewhere), shares = the Moebius coefficients of the table's multilinear extension
    in the monomials prod_{j in S} rho_j."""
    n = table.shape[0]
    subsets = list(itertools.product((0, 1), repeat=n))  # 1 = j in S
    shares = np.zeros((n, len(subsets)))
    ratios = np.array([[0.0 if s[j] else 1.0 for s in subsets] for j in range(n)])
    for t, subset in enumerate(subsets):
        for sub in itertools.product(*[(0, 1) if bit else (0,) for bit in subset]):
            keep_profile = tuple(0 if b else 1 for b in sub)  # agents in T keep (action 0)
            sign = (-1.0) ** (sum(subset) - sum(sub))
            shares[:, t] += sign * table[(slice(None), *keep_profile)]
    return SampleMetaGame(shares, ratios)


# ---------------------------------------------------------------- the same game as the table
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("clip", [None, 0.2])
@pytest.mark.parametrize("masked", [False, True])
def test_payoffs_are_the_multilinear_extension_of_the_table(n: int, clip: float | None, masked: bool) -> None:
    adv, log_w, mask = random_samples(n + 10 * masked, n, masked=masked)
    table = estimate_meta_game(adv, log_w, clip, mask)
    game = SampleMetaGame.from_samples(adv, log_w, clip, mask)
    rng = np.random.default_rng(n)
    for batch in profiles(rng, n):
        for rho in np.atleast_2d(batch):  # one profile at a time: `games` reads (m, n) as a batch of games
            want = games.expected_payoffs(table, rho)
            np.testing.assert_allclose(game.payoffs(rho), want, rtol=0, atol=1e-12)
            want_values = games.action_values(table, rho)
            np.testing.assert_allclose(game.action_values(rho), want_values, rtol=0, atol=1e-12)
            np.testing.assert_allclose(game.regrets(rho), games.regrets(table, rho), rtol=0, atol=1e-12)
            want_conv = games.nash_conv(table, rho)
            np.testing.assert_allclose(game.nash_conv(rho), want_conv, rtol=0, atol=1e-12)
        values = game.action_values(batch)  # batched: the rows of the one-at-a-time results
        np.testing.assert_allclose(game.gains(batch), values[..., 0] - values[..., 1], rtol=0, atol=1e-12)
        rows = np.array([game.payoffs(rho) for rho in np.atleast_2d(batch)])
        np.testing.assert_allclose(np.atleast_2d(game.payoffs(batch)), rows, rtol=0, atol=1e-15)
    own = [table[(i, *(1 if j == i else 0 for j in range(n)))] for i in range(n)]
    np.testing.assert_allclose(game.own_gains(), own, rtol=0, atol=1e-12)
    assert game.payoff_scale() <= games.payoff_scale(table) + 1e-12
    assert TableMetaGame(table).payoff_scale() == games.payoff_scale(table)


def test_estimate_meta_game_is_built_from_the_shared_preparation() -> None:
    adv, log_w, mask = random_samples(3, 4)
    centred, clipped, counts = prepare_samples(adv, log_w, 0.1, mask)
    assert np.all(centred[~mask] == 0.0) and np.all(clipped[~mask] == 0.0)
    np.testing.assert_array_equal(counts, mask.sum(axis=1))
    assert clipped.min() >= np.log1p(-0.1) and clipped.max() <= np.log1p(0.1)
    with pytest.raises(ValueError, match="NaN or inf"):
        SampleMetaGame.from_samples(np.array([[np.nan, 1.0]]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="ratio_clip"):
        SampleMetaGame.from_samples(adv, log_w, 1.5, mask)
    with pytest.raises(ValueError, match="overflows"):
        SampleMetaGame.from_samples(np.ones((3, 2)), np.full((3, 2), 300.0))


def test_leave_one_out_products_need_no_division() -> None:
    rng = np.random.default_rng(0)
    game = SampleMetaGame(rng.normal(size=(5, 7)), np.where(rng.random((5, 7)) < 0.3, 0.0, 1.5))
    rho = np.array([0.0, 0.3, 0.0, 1.0, 0.7])
    factors = rho[:, None] + (1 - rho[:, None]) * game.ratios
    want = np.array([np.prod(np.delete(factors, i, axis=0), axis=0) for i in range(5)])
    np.testing.assert_allclose(game.leave_one_out(rho), want, rtol=1e-15, atol=0)


def test_gain_jacobian_is_the_slope_of_the_gains() -> None:
    adv, log_w, mask = random_samples(7, 6, step=0.5)
    game = SampleMetaGame.from_samples(adv, log_w, None, mask)
    rho = np.random.default_rng(1).random(6)
    jac = game.gain_jacobian(rho)
    for k in range(6):
        up, down = rho.copy(), rho.copy()
        up[k], down[k] = 1.0, 0.0  # the gains are linear in rho_k: the secant is the slope
        slope = game.gains(up) - game.gains(down)
        slope[k] = 0.0
        np.testing.assert_allclose(jac[:, k], slope, rtol=1e-9, atol=1e-15)
    assert np.all(np.diag(jac) == 0.0)


def test_a_table_rebuilt_from_samples_is_the_same_game() -> None:
    table = np.random.default_rng(4).uniform(-1, 1, size=(3, 2, 2, 2))
    game = samples_of_table(table)
    rho = np.random.default_rng(5).random((10, 3))
    np.testing.assert_allclose(game.payoffs(rho), games.expected_payoffs(table, rho), rtol=0, atol=1e-12)


def test_table_and_restricted_games_of_the_sample_form() -> None:
    adv, log_w, mask = random_samples(9, 5)
    game = SampleMetaGame.from_samples(adv, log_w, 0.2, mask)
    np.testing.assert_allclose(game.table(), estimate_meta_game(adv, log_w, 0.2, mask), rtol=0, atol=1e-12)
    rho = np.array([1.0, 0.3, 0.0, 0.8, 0.5])
    sub = game.restricted(rho, [1, 3])
    inner = np.random.default_rng(0).random((6, 2))
    full = np.tile(rho, (6, 1))
    full[:, [1, 3]] = inner
    np.testing.assert_allclose(sub.payoffs(inner), game.payoffs(full)[:, [1, 3]], rtol=0, atol=1e-12)


def test_the_mean_of_two_games_is_the_mean_of_their_tables() -> None:
    (a, la, ma), (b, lb, mb) = random_samples(1, 3, 150), random_samples(2, 3, 90)
    tables = [estimate_meta_game(a, la, 0.2, ma), estimate_meta_game(b, lb, 0.2, mb)]
    forms = [SampleMetaGame.from_samples(a, la, 0.2, ma), SampleMetaGame.from_samples(b, lb, 0.2, mb)]
    mean = mean_game(forms)
    assert isinstance(mean, SampleMetaGame) and mean.num_samples == 240
    rho = np.random.default_rng(0).random((4, 3))
    want = games.expected_payoffs(0.5 * (tables[0] + tables[1]), rho)
    np.testing.assert_allclose(mean.payoffs(rho), want, rtol=0, atol=1e-12)
    table_mean = mean_game(tables)
    assert isinstance(table_mean, np.ndarray)
    np.testing.assert_array_equal(table_mean, 0.5 * (tables[0] + tables[1]))


# ---------------------------------------------------------------- the solver
@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7, 8])
def test_the_solvers_answer_verifies_in_both_forms(n: int) -> None:
    for seed in range(6):
        adv, log_w, mask = random_samples(100 * n + seed, n, samples=60, step=0.8)
        game = SampleMetaGame.from_samples(adv, log_w, None, mask)
        result = ss.solve_samples(game, rng=np.random.default_rng(seed))
        assert result.verified and not result.fallback and result.requested_method == "samples"
        scale = game.payoff_scale()
        assert game.regrets(result.profile).max() <= 1e-9 * scale
        np.testing.assert_allclose(result.regrets, game.regrets(result.profile), rtol=0, atol=0)
        table = estimate_meta_game(adv, log_w, None, mask)
        assert games.is_equilibrium(table, result.profile, rtol=1e-9)


@pytest.mark.parametrize("n", [16, 32, 64])
def test_many_agents_get_a_verified_equilibrium(n: int) -> None:
    for seed in range(3):
        adv, log_w, _ = random_samples(seed, n, samples=400, step=0.4, masked=False)
        game = SampleMetaGame.from_samples(adv, log_w, 0.2)
        result = solve(game, rng=np.random.default_rng(seed))
        assert result.verified and game.nash_conv(result.profile) <= 1e-9 * game.payoff_scale() * n


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_the_table_solvers_equilibria_verify_in_the_sample_form(n: int) -> None:
    for seed in range(4):
        adv, log_w, mask = random_samples(seed, n, samples=40, step=0.8)
        table = estimate_meta_game(adv, log_w, 0.3, mask)
        game = SampleMetaGame.from_samples(adv, log_w, 0.3, mask)
        found = enumerate_equilibria(table)
        assert found.profiles.shape[0] >= 1
        for profile in found.profiles:
            assert game.regrets(profile).max() <= 1e-9 * game.payoff_scale()


def test_matching_pennies_from_samples_has_a_mixed_equilibrium() -> None:
    """Two agents whose table has no pure equilibrium (found among random sample sets) get the table's one
    mixed equilibrium, from the logit homotopy."""
    for seed in itertools.count():
        rng = np.random.default_rng(seed)
        adv, log_w = rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
        table = estimate_meta_game(adv, log_w)
        pure = np.array(list(itertools.product((0.0, 1.0), repeat=2)))
        if not games.is_equilibrium(table, pure).any():
            break
    game = SampleMetaGame.from_samples(adv, log_w)
    result = solve(game)
    assert result.verified and result.method == ss.SUBGAME  # the two unstable agents' table, solved exactly
    assert np.all((result.profile > 0) & (result.profile < 1))
    np.testing.assert_allclose(result.profile, solve(table).profile, atol=1e-9)
    tol = 1e-9 * game.payoff_scale()
    chosen, _, _ = ss._search(game, tol, "closest_to_current", None, 4, 50, subgames=False)
    assert chosen is not None and chosen[2] == ss.LOGIT  # without subgames: the logit homotopy
    np.testing.assert_allclose(chosen[0], result.profile, atol=1e-9)


@pytest.mark.parametrize("n", [3, 5, 7])
def test_cyclic_matching_pennies_gets_its_unique_fully_mixed_equilibrium(n: int) -> None:
    game = samples_of_table(jordan_game(n))
    result = solve(game)
    assert result.verified and result.method in (ss.SUBGAME, ss.LOGIT)
    np.testing.assert_allclose(result.profile, 0.5, atol=1e-9)
    chosen, _, _ = ss._search(game, 1e-9 * game.payoff_scale(), "first", None, 4, 50, subgames=False)
    assert chosen is not None and chosen[2] in (ss.LOGIT, ss.NEWTON)
    np.testing.assert_allclose(chosen[0], 0.5, atol=1e-9)


def test_a_cycle_among_a_few_of_many_agents_is_settled_in_a_subgame() -> None:
    """40 agents: 3 play cyclic matching pennies, the others have a dominant action; best responses cycle,
    the 3-agent subgame's table has the mixed equilibrium, and the whole game verifies there."""
    n, rng = 40, np.random.default_rng(0)
    cycle = samples_of_table(jordan_game(3))
    dominant = rng.choice([-1.0, 1.0], size=(n - 3, 1)) * rng.uniform(0.5, 1.0, size=(n - 3, 1))
    shares = np.zeros((n, cycle.num_samples + 1))
    ratios = np.ones((n, cycle.num_samples + 1))
    shares[:3, :-1], ratios[:3, :-1] = cycle.shares, cycle.ratios
    shares[3:, -1:], ratios[3:, -1] = dominant, 0.0  # payoff dominant * rho_i: keep iff dominant > 0
    game = SampleMetaGame(shares, ratios)
    result = solve(game)
    assert result.verified and result.method == ss.SUBGAME
    np.testing.assert_allclose(result.profile[:3], 0.5, atol=1e-9)
    np.testing.assert_array_equal(result.profile[3:], (dominant[:, 0] > 0).astype(float))


def test_selection_among_the_pure_equilibria_reached() -> None:
    """Coordination: all-keep (payoff 1) and all-switch (payoff 2) are both equilibria; best responses from
    all-keep stay there and from all-switch stay there."""
    game = samples_of_table(coordination_game(4, 1.0, 2.0))
    keep = solve(game)  # closest_to_current
    assert keep.num_equilibria == 2 and keep.profile.tolist() == [1.0] * 4
    assert solve(game, selection="first").profile.tolist() == [1.0] * 4
    assert solve(game, selection="max_welfare").profile.tolist() == [0.0] * 4
    drawn = {tuple(solve(game, selection="random", rng=np.random.default_rng(s)).profile) for s in range(20)}
    assert drawn == {(1.0,) * 4, (0.0,) * 4}


def test_no_verified_profile_is_an_explicit_fallback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    game = samples_of_table(jordan_game(3))
    monkeypatch.setattr(ss, "subgame_profiles", lambda *args: iter(()))  # no subgames,
    monkeypatch.setattr(ss, "_mixed_candidates", lambda *args: iter(()))  # no mixed search at all
    stats = SolverStats()
    with caplog.at_level(logging.WARNING, logger="matrl.gametheory"):
        result = solve(game, stats=stats)
    assert result.fallback and not result.verified and result.method == ss.LOWEST
    assert result.failure is not None and "lowest NashConv reached" in result.failure
    assert result.nash_conv == pytest.approx(float(game.nash_conv(result.profile)))
    assert result.nash_conv > 0 and np.all((result.profile == 0) | (result.profile == 1))
    assert stats.fallbacks == 1 and stats.failures["samples"] == 1
    assert any("lowest NashConv" in r.getMessage() for r in caplog.records if r.name == "matrl.gametheory")


def test_solve_dispatches_on_the_form() -> None:
    adv, log_w, mask = random_samples(0, 3)
    table = estimate_meta_game(adv, log_w, 0.2, mask)
    wrapped, plain = solve(TableMetaGame(table)), solve(table)
    np.testing.assert_array_equal(wrapped.profile, plain.profile)
    assert wrapped.requested_method == "exact"
    assert solve(SampleMetaGame.from_samples(adv, log_w, 0.2, mask)).requested_method == "samples"
    game = SampleMetaGame.from_samples(adv, log_w, 0.2, mask)
    with pytest.raises(ValueError, match="method"):
        solve(game, method="nope")
    with pytest.raises(ValueError, match="rtol"):
        solve(game, rtol=-1.0)


# ---------------------------------------------------------------- choosing the form
def test_the_form_follows_the_number_of_agents() -> None:
    assert resolve_form("auto", MAX_TABLE_AGENTS) == "table"
    assert resolve_form("auto", MAX_TABLE_AGENTS + 1) == "samples"
    assert resolve_form("samples", 2) == "samples" and resolve_form("table", 8) == "table"
    with pytest.raises(ValueError) as refused:
        resolve_form("table", 10)
    message = str(refused.value)
    assert "\n" not in message and "at most 8 agents" in message and "--meta.form samples" in message
    with pytest.raises(ValueError, match=r"meta\.form"):
        resolve_form("tabel", 3)
