"""Cross-play of two-player checkpoints (the paper's Fig. 6): each checkpoint of run A against each one of B.

Cell (i, j) pits checkpoint a_i of run A against checkpoint b_j of run B: player 0 (``first_0`` in Pong) is
a_i's agent-0 network and player 1 (``second_0``) is b_j's agent-1 network, each in the seat it was trained
in, as the original evaluation did (agent-0 checkpoints of one run against agent-1 checkpoints of another).
With ``both_seats`` every cell also plays the swapped pairing (b_j's agent 0 against a_i's agent 1) and
averages the two, which removes any advantage of one seat.

Score of a game, from A's side: (return of A's player - return of B's player) / 2. Pong gives +1 and -1 for
each point, so this is the point difference, except for the serve-timer penalties (-1 to a player who holds
the ball for 2 s), which count half against the player who took them. Unlike player 0's own return (the
original's number, also reported as ``return_a``), it is antisymmetric: exchanging the two players negates
it, so > 0 means "A wins", a swapped run pair gives the negated transpose (with ``both_seats``), and a
checkpoint against itself scores exactly 0 (with ``both_seats``).

Each game uses the same seeds (action sampling, env reset), so a cell's value depends only on its two
checkpoints, not on which other cells are played. The N episodes of a cell run as one batched core of N
copies; episodes longer than ``max_steps`` are cut there and count with the return they had.

Outputs in ``out``: ``crossplay.csv`` (rows: A's checkpoint iterations, columns: B's), ``crossplay.png``
(heatmap, yellow = A scores higher, as in Fig. 6), ``summary.json`` (every matrix, the checkpoints' env steps
and the transitivity summary) and ``summary.md``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from matrl.algorithm import build_actor_critic
from matrl.algos import algo_names, algo_spec
from matrl.checkpoint import list_models, load_model, model_info
from matrl.config import TrainConfig
from matrl.envs import make_vector_env
from matrl.envs.registry import env_capabilities, is_third_party
from matrl.fileio import write_atomically, write_text_atomically
from matrl.learners.actor_critic import ActorCritic


@dataclass(frozen=True)
class Checkpoint:
    """One model checkpoint of a run: where it is and how far training had got."""

    path: Path
    iteration: int
    env_steps: int


@dataclass(frozen=True)
class RunInfo:
    """A run's checkpoints (the ones played) and its config."""

    path: Path
    config: TrainConfig
    checkpoints: tuple[Checkpoint, ...]

    @property
    def label(self) -> str:
        c = self.config
        return f"{c.algo} seed {c.seed}"


@dataclass
class CrossplayResult:
    """Score matrices (rows: A's checkpoints, columns: B's) and what they summarise to."""

    run_a: RunInfo
    run_b: RunInfo
    episodes: int
    score: np.ndarray
    """(I, J) mean over games of (A's return - B's return) / 2."""
    return_a: np.ndarray
    """(I, J) mean return of A's player (the original's number when seats are fixed: player 0's return)."""
    return_b: np.ndarray
    """(I, J) mean return of B's player."""
    length: np.ndarray
    """(I, J) mean episode length (agent steps)."""
    truncated: np.ndarray
    """(I, J) share of games cut by the step limit."""
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def same_run(self) -> bool:
        return self.run_a.path.resolve() == self.run_b.path.resolve()


def load_run(run_dir: Path, every: int = 1, until_steps: int | None = None) -> RunInfo:
    """A run's config and every ``every``-th model checkpoint counted back from the last one (the last one
    is always played) at or below ``until_steps`` env steps (to play the first part of a longer run);
    one-line errors for a directory without such checkpoints."""
    run_dir = Path(run_dir)
    if every < 1:
        raise ValueError(f"every={every} is not allowed; expected >= 1")
    models = list_models(run_dir)
    if not models:
        raise FileNotFoundError(f"no model checkpoints under {run_dir}/checkpoints (is {run_dir} a run?)")
    found = [(path, *model_info(path)) for _, path in models]
    if until_steps is not None:
        found = [entry for entry in found if entry[3] <= until_steps]
        if not found:
            raise ValueError(
                f"until_steps={until_steps} is not allowed for {run_dir}: its first checkpoint is later"
            )
    checkpoints = []
    config: TrainConfig | None = None
    for path, config_dict, iteration, env_steps in found[::-1][::every][::-1]:
        if config is None:
            config = TrainConfig.from_dict(config_dict)
        checkpoints.append(Checkpoint(path, iteration, env_steps))
    assert config is not None
    if algo_spec(config.algo).policy != "actor_critic":
        allowed = algo_names(policy="actor_critic")
        raise ValueError(
            f"{run_dir} was trained with {config.algo}; cross-play takes MATRL or its ablations "
            f"({', '.join(allowed)})"
        )
    return RunInfo(run_dir, config, tuple(checkpoints))


def crossplay(
    run_a: Path,
    run_b: Path,
    episodes: int = 10,
    every: int = 1,
    seed: int = 0,
    greedy: bool = False,
    max_steps: int | None = None,
    both_seats: bool = False,
    until_steps: int | None = None,
) -> CrossplayResult:
    """Play every (kept) checkpoint of ``run_a`` against every one of ``run_b``; see the module docs."""
    if episodes < 1:
        raise ValueError(f"episodes={episodes} is not allowed; expected >= 1")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps={max_steps} is not allowed; expected >= 1 or None")
    a, b = load_run(run_a, every, until_steps), load_run(run_b, every, until_steps)
    ca, cb = a.config, b.config
    if (ca.env, ca.env_kwargs) != (cb.env, cb.env_kwargs):
        raise ValueError(
            f"runs differ in their environment: {run_a} has {ca.env} {ca.env_kwargs}, "
            f"{run_b} has {cb.env} {cb.env_kwargs}"
        )
    with game_core(ca, episodes, seed, max_steps) as core:
        shape = getattr(core, "obs_shape", None)

        def build(info: RunInfo) -> ActorCritic:
            return build_actor_critic(info.config, 2, core.obs_dim, core.action_spec, obs_shape=shape)

        seat_a = [agent_slice(load_model(c.path)[0], 0) for c in a.checkpoints]
        seat_b = [agent_slice(load_model(c.path)[0], 1) for c in b.checkpoints]
        if both_seats:
            swap_a = [agent_slice(load_model(c.path)[0], 1) for c in a.checkpoints]
            swap_b = [agent_slice(load_model(c.path)[0], 0) for c in b.checkpoints]
        net = build(a)
        _check_compatible(net, seat_a[0], seat_b[0], run_a, run_b)
        shape_ij = (len(a.checkpoints), len(b.checkpoints))
        score, ret_a, ret_b, length, cut = (np.zeros(shape_ij) for _ in range(5))
        for i in range(shape_ij[0]):
            for j in range(shape_ij[1]):
                load_seats(net, seat_a[i], seat_b[j])
                games = [play_games(core, net, seed, greedy)]  # (returns (N, 2), lengths, truncated)
                if both_seats:
                    load_seats(net, swap_b[j], swap_a[i])
                    returns, lengths, truncated = play_games(core, net, seed, greedy)
                    games.append((returns[:, ::-1], lengths, truncated))
                returns = np.concatenate([g[0] for g in games])
                score[i, j] = float(np.mean((returns[:, 0] - returns[:, 1]) / 2.0))
                ret_a[i, j], ret_b[i, j] = returns.mean(axis=0)
                length[i, j] = float(np.mean(np.concatenate([g[1] for g in games])))
                cut[i, j] = float(np.mean(np.concatenate([g[2] for g in games])))
    result = CrossplayResult(a, b, episodes, score, ret_a, ret_b, length, cut)
    result.summary = summarise(result, seed=seed, greedy=greedy, max_steps=max_steps, both_seats=both_seats)
    return result


@contextmanager
def game_core(config: TrainConfig, episodes: int, seed: int, max_steps: int | None) -> Iterator[Any]:
    """The run's two-player env as a core of ``episodes`` copies (one game each), seeded and with the step
    limit; closed on exit. One-line error for an env that is not two-player."""
    kwargs = dict(config.env_kwargs)
    if max_steps is not None:
        if is_third_party(config.env):
            raise ValueError(
                f"max_steps={max_steps} is not allowed for {config.env}: a PettingZoo env's episode length "
                "is its own env kwarg (e.g. mpe2's max_cycles), fixed by the run's env kwargs"
            )
        kwargs["max_steps"] = max_steps
    if env_capabilities(config.env, config.env_kwargs).seeding:
        kwargs["seed"] = seed
    core = make_vector_env(config.env, episodes, **kwargs)
    try:
        if core.n_agents != 2:
            raise ValueError(
                f"cross-play and versus-random need a two-player env; {config.env} has {core.n_agents} agents"
            )
        yield core
    finally:
        close = getattr(core, "close", None)
        if close is not None:
            close()


def agent_slice(tensors: dict[str, torch.Tensor], agent: int) -> dict[str, torch.Tensor]:
    """Agent ``agent``'s part of every tensor (leading agent axis kept, length 1); scalars as they are."""
    return {k: (v[agent : agent + 1].clone() if v.dim() >= 1 else v) for k, v in tensors.items()}


def _check_compatible(
    net: ActorCritic,
    part_a: dict[str, torch.Tensor],
    part_b: dict[str, torch.Tensor],
    run_a: Path,
    run_b: Path,
) -> None:
    """One-line error unless both runs' networks have the architecture ``net`` was built with (A's)."""
    want = {k: tuple(v.shape) for k, v in agent_slice(net.state_dict(), 0).items()}
    for run, part in ((run_a, part_a), (run_b, part_b)):
        for key in sorted(set(want) | set(part)):
            got = tuple(part[key].shape) if key in part else None
            if got != want.get(key):
                raise ValueError(
                    f"the networks of {run_a} and {run_b} differ ({key}: {want.get(key)} in the network of "
                    f"{run_a}'s config, {got} in {run}); cross-play needs the same architecture"
                )


@torch.no_grad()
def load_seats(net: ActorCritic, seat0: dict[str, torch.Tensor], seat1: dict[str, torch.Tensor]) -> None:
    """Agent 0's weights from ``seat0``, agent 1's from ``seat1`` (scalar buffers from ``seat0``)."""
    state = {k: (torch.cat([v, seat1[k]]) if v.dim() >= 1 else v) for k, v in seat0.items()}
    net.load_state_dict(state)


@torch.no_grad()
def play_games(
    core: Any, net: ActorCritic, seed: int, greedy: bool, random_seat: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One episode in every env copy (the first episode each copy finishes): returns (N, 2), lengths (N,)
    and whether each was truncated (N,). With ``random_seat`` that player ignores its network and picks
    uniformly among the discrete actions (its own generator, so the other seat's samples do not change)."""
    n = core.num_envs
    generator = torch.Generator().manual_seed(seed)
    uniform = torch.Generator().manual_seed(seed + 1)
    obs = core.reset(seed)
    returns = np.zeros((n, 2))
    lengths = np.zeros(n)
    truncated = np.zeros(n, dtype=bool)
    finished = np.zeros(n, dtype=bool)
    while not finished.all():
        params = net.distribution_params(torch.from_numpy(obs).transpose(0, 1))
        actions = net.head.mode(params) if greedy else net.head.sample(params, generator)
        if random_seat is not None:
            counts = core.action_spec.counts  # agents with different action counts draw from their own
            k = counts[random_seat] if counts else core.action_spec.n
            actions[random_seat] = torch.randint(k, (n,), generator=uniform)
        result = core.step(net.head.env_action(actions.transpose(0, 1).numpy()))
        newly = result.episode_over & ~finished
        returns[newly] = result.episode_return[newly]
        lengths[newly] = result.episode_length[newly]
        truncated[newly] = result.truncated[newly].any(axis=1) & ~result.terminated[newly].any(axis=1)
        finished |= result.episode_over
        obs = result.obs
    return returns, lengths, truncated


# ---------------------------------------------------------------------------------------------- summary
def summarise(
    result: CrossplayResult, *, seed: int, greedy: bool, max_steps: int | None, both_seats: bool
) -> dict[str, Any]:
    """Transitivity and dominance numbers of the score matrix (all plain JSON values).

    Same run (A == B): for each pair of checkpoints i > j the later one's advantage is
    (score[i, j] - score[j, i]) / 2 (both seat orders); ``later_beats_earlier`` is the share of pairs where it
    is > 0 (1.0 for a perfectly transitive, monotone learning process; a cyclic one scores lower), and
    ``cyclic_triples`` counts triples whose "beats" relation is a cycle (a beats b beats c beats a).
    Different runs: ``a_wins`` is the share of cells with score > 0 (A's checkpoint wins), ``b_wins`` < 0.
    Both: the mean score and the diagonal's mean (checkpoints at the same position in both lists).
    """
    s = result.score
    out: dict[str, Any] = {
        "env": result.run_a.config.env,
        "run_a": str(result.run_a.path),
        "run_b": str(result.run_b.path),
        "label_a": result.run_a.label,
        "label_b": result.run_b.label,
        "episodes_per_cell": result.episodes * (2 if both_seats else 1),
        "seed": seed,
        "greedy": greedy,
        "max_steps": max_steps,
        "both_seats": both_seats,
        "score": "mean over games of (return of A's player - return of B's player) / 2",
        "iterations_a": [c.iteration for c in result.run_a.checkpoints],
        "iterations_b": [c.iteration for c in result.run_b.checkpoints],
        "env_steps_a": [c.env_steps for c in result.run_a.checkpoints],
        "env_steps_b": [c.env_steps for c in result.run_b.checkpoints],
        "mean_score": float(s.mean()),
        "diagonal_mean": float(np.diagonal(s).mean()),
        "truncated_share": float(result.truncated.mean()),
        "mean_episode_length": float(result.length.mean()),
    }
    if result.same_run and s.shape[0] == s.shape[1]:
        out.update(_transitivity(s))
    else:
        cells = s.size
        out["a_wins"] = float((s > 0).sum() / cells)
        out["b_wins"] = float((s < 0).sum() / cells)
        out["ties"] = float((s == 0).sum() / cells)
    out["matrices"] = {
        "score": s.tolist(),
        "return_a": result.return_a.tolist(),
        "return_b": result.return_b.tolist(),
        "episode_length": result.length.tolist(),
        "truncated_share": result.truncated.tolist(),
    }
    return out


def _transitivity(score: np.ndarray) -> dict[str, Any]:
    """Pairwise advantages of later over earlier checkpoints of one run, and cyclic triples."""
    k = score.shape[0]
    advantage = (score - score.T) / 2.0  # advantage[i, j] of checkpoint i over j, antisymmetric
    pairs = [(i, j) for i in range(k) for j in range(i)]
    later_wins = sum(advantage[i, j] > 0 for i, j in pairs)
    ties = sum(advantage[i, j] == 0 for i, j in pairs)
    beats = advantage > 0
    cycles = 0
    triples = 0
    for i in range(k):
        for j in range(i + 1, k):
            for m in range(j + 1, k):
                triples += 1
                forward = beats[i, j] and beats[j, m] and beats[m, i]
                backward = beats[j, i] and beats[m, j] and beats[i, m]
                cycles += int(forward or backward)
    n = len(pairs)
    return {
        "pairs": n,
        "later_beats_earlier": float(later_wins / n) if n else math.nan,
        "later_ties_earlier": float(ties / n) if n else math.nan,
        "mean_later_advantage": float(np.mean([advantage[i, j] for i, j in pairs])) if n else math.nan,
        "triples": triples,
        "cyclic_triples": cycles,
    }


# ---------------------------------------------------------------------------------------------- files
def write_outputs(result: CrossplayResult, out: Path) -> dict[str, Path]:
    """crossplay.csv, crossplay.png, summary.json and summary.md in ``out`` (each written atomically)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "csv": write_text_atomically(out / "crossplay.csv", format_csv(result)),
        "summary": write_text_atomically(out / "summary.json", json.dumps(result.summary, indent=2) + "\n"),
        "markdown": write_text_atomically(out / "summary.md", format_markdown(result)),
    }
    paths["png"] = plot_heatmap(result, out / "crossplay.png")
    return paths


def format_csv(result: CrossplayResult) -> str:
    """The score matrix: a header of B's iterations, then one row per A iteration."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["a_iteration", *(f"b_{c.iteration}" for c in result.run_b.checkpoints)])
    for c, row in zip(result.run_a.checkpoints, result.score, strict=True):
        writer.writerow([c.iteration, *(repr(float(v)) for v in row)])
    return buffer.getvalue()


def format_markdown(result: CrossplayResult) -> str:
    """A short human-readable summary."""
    s = result.summary
    seats = "both seat orders" if s["both_seats"] else "A in seat 0, B in seat 1"
    lines = [
        f"# Cross-play on {s['env']}: {s['label_a']} ({s['run_a']}) vs {s['label_b']} ({s['run_b']})",
        "",
        f"- {len(s['iterations_a'])} x {len(s['iterations_b'])} checkpoints, "
        f"{s['episodes_per_cell']} games per cell ({seats}), "
        f"{'greedy' if s['greedy'] else 'sampled'} actions, seed {s['seed']}, "
        f"step limit {s['max_steps'] if s['max_steps'] is not None else 'the env default'}",
        f"- score: {s['score']}",
        f"- mean score {s['mean_score']:.3f}, diagonal mean {s['diagonal_mean']:.3f}, "
        f"mean episode length {s['mean_episode_length']:.1f}, truncated {s['truncated_share']:.0%}",
    ]
    if "later_beats_earlier" in s:
        lines.append(
            f"- later checkpoint beats earlier: {s['later_beats_earlier']:.0%} of {s['pairs']} pairs "
            f"(ties {s['later_ties_earlier']:.0%}, mean advantage {s['mean_later_advantage']:.3f}); "
            f"cyclic triples {s['cyclic_triples']} of {s['triples']}"
        )
    else:
        lines.append(f"- A wins {s['a_wins']:.0%} of cells, B wins {s['b_wins']:.0%}, ties {s['ties']:.0%}")
    lines += ["", "| A \\ B | " + " | ".join(str(i) for i in s["iterations_b"]) + " |"]
    lines.append("| ---: |" + " ---: |" * len(s["iterations_b"]))
    for it, row in zip(s["iterations_a"], result.score, strict=True):
        lines.append(f"| {it} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
    return "\n".join(lines) + "\n"


def plot_heatmap(result: CrossplayResult, out: Path) -> Path:
    """The score matrix as a heatmap (viridis: yellow = A scores higher, as in Fig. 6) with a colour bar."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import EngFormatter

    s = result.score
    steps = EngFormatter(sep="")
    fig = Figure(figsize=(1.2 + 0.45 * s.shape[1] + 1.6, 1.4 + 0.45 * s.shape[0]), layout="constrained")
    ax = fig.subplots()
    bound = float(np.abs(s).max()) or 1.0
    image = ax.imshow(s, cmap="viridis", vmin=-bound, vmax=bound, aspect="auto")
    ax.set_xticks(range(s.shape[1]), [steps(c.env_steps) for c in result.run_b.checkpoints], rotation=90)
    ax.set_yticks(range(s.shape[0]), [steps(c.env_steps) for c in result.run_a.checkpoints])
    ax.set_xlabel(f"B: {result.run_b.label} checkpoint (env steps)")
    ax.set_ylabel(f"A: {result.run_a.label} checkpoint (env steps)")
    ax.set_title(
        f"{result.run_a.label} vs {result.run_b.label} ({result.run_a.config.env})", fontsize="medium"
    )
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("score of A: (return A - return B) / 2")
    return write_atomically(Path(out), lambda tmp: fig.savefig(tmp, format="png", dpi=120))
