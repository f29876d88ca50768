"""CMA-ES, replicator dynamics, fictitious play: verified profiles or reported failures; seeded, quiet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gt_helpers import jordan_game, random_game

from matrl.gametheory import cma_es, fictitious_play, is_equilibrium, polish, replicator_dynamics, solve

SOLVERS = {"cma": cma_es, "replicator": replicator_dynamics, "fictitious_play": fictitious_play}


@pytest.mark.parametrize("method", sorted(SOLVERS))
@pytest.mark.parametrize("n", [1, 2, 3])
def test_returns_verified_profiles_or_reports_failure(method: str, n: int) -> None:
    for seed in range(4):
        game = random_game(seed, n)
        result = solve(game, method=method, rng=np.random.default_rng(seed), fallbacks=())
        assert result.requested_method == method
        if result.method == method:
            assert result.verified and is_equilibrium(game, result.profile)
        else:  # a failure is explicit, never a silent non-equilibrium
            assert result.fallback and result.failure and result.failure.startswith(method)


@pytest.mark.parametrize("method", sorted(SOLVERS))
def test_deterministic_with_a_seed(method: str) -> None:
    game = random_game(11, 3)
    a = SOLVERS[method](game, np.random.default_rng(3))
    b = SOLVERS[method](game, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_dynamics_find_the_mixed_equilibrium_of_cyclic_matching_pennies() -> None:
    # replicator dynamics cycle here; the polished time average is the equilibrium
    game = jordan_game(3)
    for solver in (replicator_dynamics, fictitious_play):
        profile = solver(game, np.random.default_rng(0))
        assert is_equilibrium(game, profile), (solver.__name__, profile)


def test_cma_is_quiet_and_leaves_global_state_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    np.random.seed(123)  # noqa: NPY002 - checking that cma does not disturb the legacy global generator
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    profile = cma_es(random_game(0, 3) * 1e-8, np.random.default_rng(0))
    assert is_equilibrium(random_game(0, 3), profile)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    assert list(tmp_path.iterdir()) == []  # no outcmaes/ files
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_cma_with_paper_settings_is_approximate() -> None:
    # the paper's CMA-ES without polishing stops at regrets far above 1e-9: solve reports it as a failure
    game = random_game(2, 2)
    raw = cma_es(game, np.random.default_rng(0), polish=False, restarts=0, ftarget=1e-10)
    assert not is_equilibrium(game, raw)
    assert is_equilibrium(game, raw, rtol=1e-3)


def test_polish_snaps_approximate_profiles() -> None:
    game = jordan_game(4)
    profile, worst = polish(game, np.full(4, 0.5) + 1e-4)
    np.testing.assert_allclose(profile, 0.5, atol=1e-12)
    assert worst <= 1e-12
