"""A training run on disk: config, versions, metrics, checkpoints, progress bar, resume.

The learners (`algorithm.MATRL`, the `baselines`) know nothing about files; this module owns the run
directory:

    DIR/config.json        the full TrainConfig (``--from-config`` replays it)
    DIR/versions.json      python, platform and package versions
    DIR/metrics.csv        one row per iteration (see `matrl.logging.metrics`)
    DIR/tb/                TensorBoard events
    DIR/checkpoints/       iter_NNNNNN.safetensors (networks) and state.pt (latest full state, for --resume)
"""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from matrl import checkpoint
from matrl.baselines import make_learner
from matrl.config import MATRL_ALGOS, TrainConfig
from matrl.envs.matrix import ENV_ID as MATRIX_ENV_ID
from matrl.envs.matrix import stage_payoffs, stage_regrets
from matrl.envs.registry import MUJOCO_ENV_IDS, PONG_ENV_IDS
from matrl.fileio import write_text_atomically
from matrl.logging.metrics import MetricsLog
from matrl.rollout.base import Collector
from matrl.rollout.local import LocalCollector

#: Envs whose copies can be stepped in worker processes (``env_workers``) and take a ``seed``.
WORKER_ENV_IDS: tuple[str, ...] = (*MUJOCO_ENV_IDS, *PONG_ENV_IDS)

_VERSIONED = (
    "matrl",
    "torch",
    "numpy",
    "scipy",
    "gymnasium",
    "pettingzoo",
    "gymnasium-robotics",
    "mujoco",
    "safetensors",
    "tyro",
    "cma",
    "ale-py",
    "multi-agent-ale-py",
)


def make_collector(config: TrainConfig) -> Collector:
    """The collection backend: in-process policy, env copies in this process or in ``env_workers`` ones.

    MuJoCo and Pong copies are seeded from the run's seed (copy k gets seed + k; Pong uses it only for its
    optional no-op starts); the grid worlds are deterministic.
    """
    kwargs = dict(config.env_kwargs)
    if config.env in WORKER_ENV_IDS:
        kwargs.setdefault("seed", config.seed)
        kwargs["num_workers"] = config.env_workers
    elif config.env_workers != 1:
        raise ValueError(
            f"env_workers={config.env_workers} is not allowed for {config.env}; worker processes are for "
            f"the MuJoCo and Pong ids ({', '.join(WORKER_ENV_IDS)})"
        )
    if config.rollout == "ray":
        from matrl.rollout.ray_collector import RayCollector

        return RayCollector(
            config.env,
            config.num_envs,
            config.workers,
            threads=config.threads,
            address=config.address,
            env_kwargs=kwargs,
        )
    return LocalCollector(config.env, config.num_envs, **kwargs)


def stage_game_columns(config: TrainConfig, learner: Any) -> dict[str, float]:
    """``matrix_v0`` with a policy-gradient learner: each agent's mixed strategy in the one state
    (``stage_p{i}_{a}``) and its NashConv in the stage game (``stage_nash_conv``, 0 at an equilibrium)."""
    if config.env != MATRIX_ENV_ID or config.algo not in MATRL_ALGOS:
        return {}
    payoffs = stage_payoffs(**{k: v for k, v in config.env_kwargs.items() if k in ("game", "payoffs")})
    n = payoffs.shape[0]
    with torch.no_grad():
        obs = torch.ones(n, 1, 1, device=learner.device)
        probs = torch.softmax(learner.net.distribution_params(obs)[:, 0], -1).double().cpu().numpy()
    out = {f"stage_p{i}_{a}": float(probs[i, a]) for i in range(n) for a in range(probs.shape[1])}
    out["stage_nash_conv"] = float(stage_regrets(payoffs, probs).sum())
    return out


def package_versions() -> dict[str, str]:
    """Versions of python, the platform and the packages a result depends on."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def train(
    config: TrainConfig | None,
    out: Path,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
    tensorboard: bool = True,
    extend_to: int | None = None,
) -> Path:
    """Train (or resume) a run in ``out`` and return the directory.

    Args:
        config: the run's settings; with ``resume`` it must be None or equal to the saved config.
        out: run directory; must not hold a run unless resuming.
        resume: continue from ``out/checkpoints/state.pt``, bit-identically to an uninterrupted run.
        progress: show a progress bar.
        stop_after: stop after this many iterations in total (for tests of interrupted runs).
        tensorboard: write TensorBoard events.
        extend_to: with ``resume``, a new ``total_steps`` of at least the steps already done: a finished (or
            interrupted) run continues to it, exactly as a run started with that budget would (no setting
            depends on the budget but the number of iterations); config.json is rewritten with it.
    """
    out = Path(out)
    if resume:
        if not (out / "config.json").is_file():
            raise FileNotFoundError(f"cannot resume: {out} holds no run (no config.json)")
        saved = TrainConfig.load(out / "config.json")
        if config is not None and config != saved:
            raise ValueError(f"--resume {out}: the given config differs from the saved {out / 'config.json'}")
        config = saved
        state = checkpoint.load_state(out)
        if extend_to is not None and extend_to != saved.total_steps:
            config = _extended(saved, extend_to, state, out)
    else:
        if config is None:
            raise ValueError("train needs a config unless resuming")
        if extend_to is not None:
            raise ValueError("extend_to (--total-steps with --resume) needs resume")
        if (out / "config.json").exists():
            raise ValueError(f"run directory {out} already holds a run; use --resume {out} or another --out")
        state = None
    config.validate()
    torch.set_num_threads(config.threads)
    collector = make_collector(config)
    learner = make_learner(config, collector)
    if state is not None:
        learner.load_state_dict(state["algorithm"])
        collector.load_state_dict(state["collector"])
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomically(out / "config.json", json.dumps(config.to_dict(), indent=2) + "\n")
        write_text_atomically(out / "versions.json", json.dumps(package_versions(), indent=2) + "\n")
    log = MetricsLog(out, resume_iteration=learner.iteration_count, tensorboard=tensorboard)
    total = config.iterations if stop_after is None else min(stop_after, config.iterations)
    try:
        with _ProgressBar(progress, config, total, learner.iteration_count) as advance:
            while learner.iteration_count < total:
                start = time.perf_counter()
                restarts = getattr(collector, "restarts", None)  # rollout workers restarted (Ray)
                result = learner.iteration()
                result.metrics.update(stage_game_columns(config, learner))
                seconds = time.perf_counter() - start
                row: dict[str, float] = {"iteration": learner.iteration_count, "env_steps": learner.env_steps}
                row.update(result.metrics)
                row["steps_per_second"] = config.steps_per_iteration / seconds
                row.update({f"time_{k}": v for k, v in result.phase_seconds.items()})
                row["time_iteration"] = seconds
                if restarts is not None:
                    row["rollout_restarts"] = collector.restarts - restarts  # type: ignore[attr-defined]
                log.write(row)
                done = learner.iteration_count
                if done % config.checkpoint_every == 0 or done == config.iterations:
                    save_checkpoint(out, learner, collector)
                advance(row)
    finally:
        log.close()
        close = getattr(collector, "close", None)
        if close is not None:
            close()
    return out


def _extended(saved: TrainConfig, total_steps: int, state: dict[str, Any], out: Path) -> TrainConfig:
    """``saved`` with a new budget, written to config.json; refused below the steps already trained."""
    done = int(state["algorithm"]["env_steps"])
    if total_steps < done:
        raise ValueError(
            f"--total-steps {total_steps} is not allowed with --resume {out}: the run has already trained "
            f"{done} env steps (its last checkpoint); expected >= {done}"
        )
    config = dataclasses.replace(saved, total_steps=total_steps)
    config.validate()
    write_text_atomically(out / "config.json", json.dumps(config.to_dict(), indent=2) + "\n")
    return config


def save_checkpoint(out: Path, learner: Any, collector: Collector) -> None:
    """Model weights for evaluation, then the full state for resume (each file atomic)."""
    config = learner.config.to_dict()
    checkpoint.save_model(
        checkpoint.model_path(out, learner.iteration_count),
        learner.net,
        config,
        learner.iteration_count,
        learner.env_steps,
    )
    checkpoint.save_state(out, {"algorithm": learner.state_dict(), "collector": collector.state_dict()})


class _ProgressBar:
    """A rich progress bar over iterations showing env steps, return and speed (a no-op when disabled)."""

    def __init__(self, enabled: bool, config: TrainConfig, total: int, done: int) -> None:
        self.enabled = enabled and total > done
        self.config, self.total, self.done = config, total, done
        self._progress: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda row: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn(f"{self.config.algo} {self.config.env} seed {self.config.seed}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            transient=False,
        )
        self._progress.start()
        task = self._progress.add_task("train", total=self.total, completed=self.done, info="")

        def advance(row: dict[str, float]) -> None:
            info = f"return {row['total_return']:.2f}  {row['steps_per_second']:.0f} steps/s"
            self._progress.update(task, advance=1, info=info)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
