"""Head-to-head scores of algorithms in a two-player game, from the final policies of their seeds.

In a competitive game an algorithm's own return in self-play ranks nothing (both sides improve), so the
paper compares algorithms by playing them against each other (Pong, Fig. 6). This module does that for every
seed pair of two algorithms, with seats balanced so that role-asymmetric games (MPE ``simple_push``: an
adversary and a good agent) compare fairly:

    score(X_s, Y_t) = 1/2 [ d(X_s in seat 0, Y_t in seat 1) - d(Y_t in seat 0, X_s in seat 1) ]
    d = mean over games of (return of seat 0 - return of seat 1) / 2

so ``score(X_s, Y_t) = -score(Y_t, X_s)`` and > 0 means X's agents beat Y's on average over both roles.
``"random"`` stands for the uniformly random policy (discrete actions), the yardstick.

Every game of a cell uses the same seeds (action sampling, env resets), so a cell depends only on its two
policies; the N games of a pairing run as one batched core of N copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matrl.algorithm import build_actor_critic
from matrl.checkpoint import list_models, load_model
from matrl.config import TrainConfig
from matrl.eval.crossplay import agent_slice, game_core, load_seats, play_games

RANDOM = "random"


@dataclass(frozen=True)
class HeadToHead:
    """Seat-balanced scores of X's seeds (rows) against Y's seeds (columns), and its summaries."""

    x: str
    y: str
    scores: np.ndarray
    """(seeds of X, seeds of Y) score(X_s, Y_t), see the module docs."""

    @property
    def mean(self) -> float:
        return float(self.scores.mean())

    @property
    def win_share(self) -> float:
        """Share of seed pairs where X scores more than Y (ties count half)."""
        return float(np.mean((self.scores > 0) + 0.5 * (self.scores == 0)))

    def interval(self, reps: int = 2000, seed: int = 0) -> tuple[float, float]:
        """95 % bootstrap interval of the mean, resampling X's seeds and Y's seeds independently."""
        rng = np.random.default_rng(seed)
        n, m = self.scores.shape
        means = np.empty(reps)
        for k in range(reps):
            rows, cols = rng.integers(n, size=n), rng.integers(m, size=m)
            means[k] = self.scores[np.ix_(rows, cols)].mean()
        low, high = np.percentile(means, [2.5, 97.5])
        return float(low), float(high)


def final_model(run_dir: Path) -> Path:
    """A run's last model checkpoint (one line when it has none)."""
    models = list_models(run_dir)
    if not models:
        raise FileNotFoundError(f"no model checkpoints under {run_dir}/checkpoints (is {run_dir} a run?)")
    return models[-1][1]


def head_to_head(
    x: str,
    x_runs: Sequence[Path],
    y: str,
    y_runs: Sequence[Path],
    episodes: int = 100,
    seed: int = 0,
) -> HeadToHead:
    """Score every final policy of ``x_runs`` against every one of ``y_runs`` (``y == "random"``: the random
    policy, ``y_runs`` ignored); all runs must share one two-player env and network architecture."""
    if episodes < 1:
        raise ValueError(f"episodes={episodes} is not allowed; expected >= 1")
    if not x_runs or (y != RANDOM and not y_runs):
        raise ValueError(f"head-to-head of {x} and {y} needs at least one run of each")
    x_models = [load_model(final_model(run)) for run in x_runs]
    y_models = [] if y == RANDOM else [load_model(final_model(run)) for run in y_runs]
    config = TrainConfig.from_dict(x_models[0][1])
    for _, other, _, _ in x_models + y_models:
        if (other["env"], other.get("env_kwargs", {})) != (config.env, config.env_kwargs):
            raise ValueError(f"head-to-head needs one env; {config.env} and {other['env']} differ")
    with game_core(config, episodes, seed, None) as core:
        net = build_actor_critic(
            config, 2, core.obs_dim, core.action_spec, obs_shape=getattr(core, "obs_shape", None)
        )

        def seat_advantage(seat0: dict | None, seat1: dict | None) -> float:
            """d of one pairing; None = the random policy in that seat (its weights are never used)."""
            filler = seat0 if seat0 is not None else seat1
            assert filler is not None
            load_seats(net, agent_slice(seat0 or filler, 0), agent_slice(seat1 or filler, 1))
            random_seat = 0 if seat0 is None else (1 if seat1 is None else None)
            returns, _, _ = play_games(core, net, seed, greedy=False, random_seat=random_seat)
            return float(np.mean((returns[:, 0] - returns[:, 1]) / 2.0))

        opponents: list[dict | None] = [None] if y == RANDOM else [m[0] for m in y_models]
        scores = np.zeros((len(x_models), len(opponents)))
        for i, (mine, _, _, _) in enumerate(x_models):
            for j, theirs in enumerate(opponents):
                scores[i, j] = 0.5 * (seat_advantage(mine, theirs) - seat_advantage(theirs, mine))
    return HeadToHead(x, y, scores)
