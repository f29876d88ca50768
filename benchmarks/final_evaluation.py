"""Evaluate the last checkpoint of every finished run of a study, greedily and as trained, and tabulate.

    python benchmarks/final_evaluation.py --envs checkers_v0 switch4_v0 hopper_3x1 --episodes 20

Training curves mix policies with their exploration (MATRL's sampled actions, the Q-learners' epsilon-greedy
at 0.05, MADDPG's action noise), so they are not like-for-like. This script plays every run's final
checkpoint with ``matrl evaluate``: ``greedy`` takes each agent's most likely action (MATRL, IL: the mode;
VDN/QMIX/QTRAN: argmax Q; MADDPG: the deterministic actor), ``sampled`` draws MATRL's actions from its
policy (for the baselines it is the same greedy policy). The table (mean ± std over seeds of each seed's mean
return) goes to ``docs/results/final_eval_ENV.md``; MuJoCo reports the team return (one agent's return).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from matrl.checkpoint import list_models
from matrl.config import TrainConfig
from matrl.envs.registry import MUJOCO_ENV_IDS
from matrl.eval.curves import find_runs
from matrl.eval.evaluate import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--envs", nargs="+", default=["checkers_v0", "switch4_v0", "hopper_3x1"])
    parser.add_argument("--algos", nargs="+", default=["matrl", "il", "vdn", "qmix", "qtran", "maddpg"])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("runs/results"))
    parser.add_argument("--docs", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    for env in args.envs:
        runs = [r for r in find_runs([args.out / env]) if r.algo in args.algos]
        mujoco = env in MUJOCO_ENV_IDS
        by_algo: dict[str, dict[str, list[float]]] = {}
        for run in runs:
            models = list_models(run.path)
            if not models or models[-1][0] < TrainConfig.load(run.path / "config.json").iterations:
                continue  # unfinished
            _, path = models[-1]
            for mode in ("greedy", "sampled"):
                result = evaluate(path, episodes=args.episodes, seed=run.seed, greedy=mode == "greedy")
                score = result.returns[:, 0] if mujoco else result.total_returns
                by_algo.setdefault(run.algo, {}).setdefault(mode, []).append(float(score.mean()))
        label = "team return" if mujoco else "total return"
        lines = [
            f"Final checkpoints of `runs/results/{env}`, {args.episodes} episodes per seed, {label}; "
            "mean ± std over seeds.\n",
            "| algo | seeds | greedy | sampled (as trained, without exploration noise for the baselines) |",
            "| --- | ---: | ---: | ---: |",
        ]
        for algo in args.algos:
            if algo not in by_algo:
                continue
            g, s = (np.array(by_algo[algo][m]) for m in ("greedy", "sampled"))
            lines.append(
                f"| {algo} | {len(g)} | {g.mean():.2f} ± {g.std():.2f} | {s.mean():.2f} ± {s.std():.2f} |"
            )
        text = "\n".join(lines) + "\n"
        args.docs.mkdir(parents=True, exist_ok=True)
        (args.docs / f"final_eval_{env}.md").write_text(text)
        print(f"## {env}\n{text}")


if __name__ == "__main__":
    main()
