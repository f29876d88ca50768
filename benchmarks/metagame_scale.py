"""How MATRL's meta-game and its learner scale with the number of agents: table form against sample form.

Part 1 (meta-game): for n = 2, 4, 8, 16, 32, 64, 128 agents and B = 4000 joint samples, the time to estimate
the meta-game and solve it (`solve`, the default selection ``closest_to_current``) in each form that applies
(the 2^n table up to 8 agents, the sample form for every n), median and max over seeds, and the method that
answered. Three kinds of synthetic samples: ``ppo-like`` (advantages with a shared component, log-ratios of
a small improving step, the default meta ratio clip 0.1: what a MATRL batch looks like), ``coupled`` and
``strongly coupled`` (each agent's log-ratio also loads, with random signs, on two other agents' advantages;
clip 0.3 / 0.5: games whose best responses cycle, so the subgame and homotopy steps of the sample solver and
its budget are exercised). For n <= 8 it also prints the largest |payoff
difference| between the two forms (at every pure profile and at random mixed ones) and how many of the
table's equilibria (all of them up to 6 agents, the solver's answer at 7-8) verify in the sample form.

Part 2 (learner): one PPO update (10 epochs over the batch, full batch, no KL stop) of the batched per-agent
MLPs (`build_actor_critic`, 128 x 128) on a synthetic batch of B = 4000 samples per agent, for n = 4 to 64
agents, against the sample-form meta-game's estimate + solve at the same n.

Timings are the process's CPU time (other load on the machine counts for none of them), one torch thread
and one BLAS thread (a multi-threaded BLAS on a loaded machine spins: 10-50x slower small solves).

    .venv/bin/python benchmarks/metagame_scale.py [--seeds 5] [--note TEXT] [--out FILE | --no-write]
    .venv/bin/python benchmarks/metagame_scale.py --quick --no-write   # a smoke run
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see the module docstring
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import dataclasses
import logging
import statistics
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch

from machine import provenance
from matrl.algorithm import build_actor_critic
from matrl.config import PPOConfig, TrainConfig
from matrl.envs.spec import ActionSpec
from matrl.fileio import write_text_atomically
from matrl.gametheory import enumerate_equilibria, games, solve
from matrl.gametheory.forms import MAX_TABLE_AGENTS
from matrl.gametheory.metagame import estimate_meta_game
from matrl.gametheory.sample_form import SampleMetaGame
from matrl.gametheory.solver import NashResult
from matrl.learners.update import LossWeights, Samples, ppo_update

ROOT = Path(__file__).resolve().parents[1]
AGENTS = (2, 4, 8, 16, 32, 64, 128)
LEARNER_AGENTS = (4, 8, 16, 32, 64)
SAMPLES = 4000
OBS_DIM, ACTIONS = 32, 5


def ppo_like(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Standardised advantages sharing half their variance across agents (a common reward), and log-ratios
    of a small predicted step that favours the agent's own positive advantages."""
    rng = np.random.default_rng(seed)
    adv = np.sqrt(0.5) * rng.normal(size=SAMPLES) + np.sqrt(0.5) * rng.normal(size=(n, SAMPLES))
    return adv, 0.05 * adv + 0.05 * rng.normal(size=(n, SAMPLES)), 0.1


def coupled(n: int, seed: int, own: float = 0.2, cross: float = 0.3, clip: float = 0.3) -> tuple:
    """Each agent's step also reacts, with a random sign, to two other agents' advantages: systematic cross
    effects (the others' switching changes an agent's own gain), so pure equilibria can be missing."""
    rng = np.random.default_rng(10_000 + seed)
    adv = rng.normal(size=(n, SAMPLES))
    loading = own * np.eye(n)
    for j in range(n):
        others = rng.choice(np.delete(np.arange(n), j), size=min(2, n - 1), replace=False)
        loading[j, others] = cross * rng.choice([-1.0, 1.0], size=others.size)
    return adv, loading @ adv + 0.1 * rng.normal(size=(n, SAMPLES)), clip


KINDS: dict[str, Callable[[int, int], tuple[np.ndarray, np.ndarray, float]]] = {
    "ppo-like": ppo_like,
    "coupled": coupled,
    "strongly coupled": partial(coupled, own=0.1, cross=0.5, clip=0.5),
}


def estimate_and_solve(form: str, adv: np.ndarray, log_w: np.ndarray, clip: float) -> NashResult:
    if form == "table":
        return solve(estimate_meta_game(adv, log_w, clip))
    return solve(SampleMetaGame.from_samples(adv, log_w, clip))


def timed(call: Callable[[], object]) -> tuple[object, float]:
    tick = time.process_time()
    out = call()
    return out, time.process_time() - tick


def meta_game_rows(seeds: int, agents: tuple[int, ...]) -> tuple[list[str], list[str]]:
    speed = [
        "| samples | n | form | estimate + solve, CPU s (median) | max | methods (seeds) | verified |",
        "|---|---|---|---|---|---|---|",
    ]
    agree = [
        "| samples | n | max \\|payoff difference\\|, pure profiles | at 100 mixed profiles "
        "| table's equilibria verified in the sample form |",
        "|---|---|---|---|---|",
    ]
    for kind, make in KINDS.items():
        for n in agents:
            forms = ["table", "samples"] if n <= MAX_TABLE_AGENTS else ["samples"]
            for form in forms:
                seconds, methods, verified = [], Counter(), 0
                for seed in range(seeds):
                    result, spent = timed(partial(estimate_and_solve, form, *make(n, seed)))
                    seconds.append(spent)
                    assert isinstance(result, NashResult)
                    methods[result.method] += 1
                    verified += int(result.verified)
                used = ", ".join(f"{name} {count}" for name, count in methods.most_common())
                speed.append(
                    f"| {kind} | {n} | {form} | {statistics.median(seconds):.4f} | {max(seconds):.4f} "
                    f"| {used} | {verified}/{seeds} |"
                )
                print(speed[-1], flush=True)
            if n <= MAX_TABLE_AGENTS:
                agree.append(agreement(kind, make, n, seeds))
                print(agree[-1], flush=True)
    return speed, agree


def agreement(kind: str, make: Callable[[int, int], tuple], n: int, seeds: int) -> str:
    worst_pure = worst_mixed = 0.0
    checked = passed = 0
    for seed in range(seeds):
        adv, log_w, clip = make(n, seed)
        table = estimate_meta_game(adv, log_w, clip)
        game = SampleMetaGame.from_samples(adv, log_w, clip)
        worst_pure = max(worst_pure, float(np.abs(game.table() - table).max()))
        rho = np.random.default_rng(seed).random((100, n))
        mixed = np.array([games.expected_payoffs(table, r) for r in rho])
        worst_mixed = max(worst_mixed, float(np.abs(game.payoffs(rho) - mixed).max()))
        found = enumerate_equilibria(table).profiles if n <= 6 else solve(table).profile[None, :]
        tol = 1e-9 * game.payoff_scale()
        checked += found.shape[0]
        passed += int((game.regrets(found).max(axis=-1) <= tol).sum())
    return f"| {kind} | {n} | {worst_pure:.1e} | {worst_mixed:.1e} | {passed}/{checked} |"


def learner_rows(agents: tuple[int, ...], seeds: int) -> list[str]:
    rows = [
        "| n | PPO update, CPU s | per agent | x n=4 | sample-form meta-game (estimate + solve), CPU s "
        "| meta-game / PPO update |",
        "|---|---|---|---|---|---|",
    ]
    base = None
    ppo = dataclasses.replace(PPOConfig(), target_kl=None)
    config = TrainConfig(ppo=ppo)
    weights = LossWeights(ppo.clip_ratio, ppo.value_coef, ppo.entropy_coef, ppo.kl_coef, ppo.value_clip)
    for n in agents:
        torch.manual_seed(0)
        net = build_actor_critic(config, n, OBS_DIM, ActionSpec.discrete(ACTIONS))
        optimizer = torch.optim.Adam(net.parameters(), lr=ppo.lr)
        generator = torch.Generator().manual_seed(0)
        obs = torch.randn(n, SAMPLES, OBS_DIM, generator=generator)
        actions = torch.randint(ACTIONS, (n, SAMPLES), generator=generator)
        with torch.no_grad():
            logp, values = net.log_prob(obs, actions), net.values(obs)
        samples = Samples(
            obs=obs,
            actions=actions,
            logp=logp,
            values=values,
            advantages=torch.randn(n, SAMPLES, generator=generator),
            returns=torch.randn(n, SAMPLES, generator=generator),
        )

        update = partial(ppo_update, net, optimizer, samples, weights, epochs=ppo.update_iters)
        update()  # warm-up
        _, spent = timed(update)
        meta = [timed(partial(estimate_and_solve, "samples", *ppo_like(n, seed)))[1] for seed in range(seeds)]
        base = spent if base is None else base
        meta_s = statistics.median(meta)
        ratio = meta_s / spent
        rows.append(
            f"| {n} | {spent:.2f} | {spent / n:.3f} | {spent / base:.1f} | {meta_s:.4f} | {ratio:.4f} |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer agents and seeds, to check the script")
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "metagame_scale.md")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    torch.set_num_threads(1)
    logging.getLogger("matrl.gametheory").setLevel(logging.ERROR)  # 7-8 agents: exact -> replicator notes
    seeds = 2 if args.quick else args.seeds
    speed, agree = meta_game_rows(seeds, (2, 4, 16) if args.quick else AGENTS)
    learner = learner_rows((4, 8) if args.quick else LEARNER_AGENTS, seeds)
    if args.no_write:
        return
    text = (
        "# Meta-game and learner cost against the number of agents\n\n"
        f"B = {SAMPLES} joint samples, {seeds} seeds per row, CPU time of the process with one torch and one "
        "BLAS thread\n"
        "(`benchmarks/metagame_scale.py` says how the samples are made). `table`: `estimate_meta_game` + "
        "`solve` (exact\nsupport enumeration, every equilibrium up to 6 agents; at 7-8 agents the default "
        "selection falls back to\nreplicator dynamics, as MATRL does today); `samples`: "
        "`SampleMetaGame.from_samples` + `solve` (its own verified solver).\n\n"
        "## Estimate + solve\n\n" + "\n".join(speed) + "\n\n"
        "## The two forms agree (n <= 8)\n\n" + "\n".join(agree) + "\n\n"
        "## The learner: one PPO update of the batched per-agent MLPs\n\n"
        f"obs_dim {OBS_DIM}, {ACTIONS} discrete actions, 2 x 128 policy and value MLPs per agent, "
        f"{PPOConfig().update_iters} full-batch epochs, B = {SAMPLES} per agent.\n\n"
        + "\n".join(learner)
        + "\n\n"
        + provenance("benchmarks/metagame_scale.py", time.perf_counter() - start, args.note)
    )
    write_text_atomically(args.out, text)


if __name__ == "__main__":
    main()
