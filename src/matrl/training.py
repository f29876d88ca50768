"""A training run on disk: config, versions, metrics, checkpoints, progress bar, resume.

The learners (`algorithm.MATRL`, the `baselines`) know nothing about files; this module owns the run
directory:

    DIR/config.json        the full TrainConfig (``--from-config`` replays it)
    DIR/versions.json      python, platform and package versions
    DIR/metrics.csv        one row per iteration (see `matrl.logging.metrics`)
    DIR/tb/                TensorBoard events
    DIR/checkpoints/       iter_NNNNNN.safetensors (networks) and state.pt (latest full state, for --resume)
    DIR/.lock              held (flock) by the process training in DIR; names its PID

docs/reliability.md lists what survives a kill, a full disk or a second process, and what does not.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import platform
import shlex
import shutil
import sys
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from matrl import checkpoint
from matrl.algos import algo_spec, make_learner
from matrl.config import TrainConfig
from matrl.envs.matrix import ENV_ID as MATRIX_ENV_ID
from matrl.envs.matrix import stage_payoffs, stage_regrets
from matrl.envs.registry import env_capabilities, env_ids_with, is_third_party, worker_refusal
from matrl.fileio import LOCK_FILE, RunLock, remove_stale_tmp, write_text_atomically
from matrl.logging.metrics import MetricsLog
from matrl.rollout.base import Collector
from matrl.rollout.local import LocalCollector

#: Without a terminal, progress is a plain line about this many times per run (``log_every`` overrides it) ...
LOG_LINES = 20
#: ... and at least once per this many seconds (``log_seconds``), so a slow run is never silent for long.
LOG_SECONDS = 60.0

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
    optional no-op starts); the grid worlds are deterministic. Third-party PettingZoo envs are seeded the
    same way (their first reset), in this process or in ``env_workers`` ones.
    """
    kwargs = dict(config.env_kwargs)
    capabilities = env_capabilities(config.env, config.env_kwargs)
    if capabilities.seeding:
        kwargs.setdefault("seed", config.seed)
    if capabilities.worker_processes:
        kwargs["num_workers"] = config.env_workers
    elif config.env_workers != 1:
        refusal = worker_refusal(config.env) if is_third_party(config.env) else None
        if refusal is not None:
            raise ValueError(f"env_workers={config.env_workers} is not allowed for {config.env}: {refusal}")
        raise ValueError(
            f"env_workers={config.env_workers} is not allowed for {config.env}; worker processes are for "
            f"{', '.join(env_ids_with('worker_processes'))} and third-party PettingZoo envs"
        )
    if not capabilities.ray_rollout and config.rollout != "local":
        raise ValueError(
            f"rollout={config.rollout!r} is not allowed for {config.env}; expected 'local' (VMAS steps its "
            "batch in the training process)"
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
    if config.env != MATRIX_ENV_ID or not algo_spec(config.algo).on_policy:
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


#: TrainConfig fields that may differ on ``--resume``: they change where and how fast a run computes, not what
#: it computes (the rest is fixed by config.json).
EXECUTION_FIELDS: tuple[str, ...] = ("threads", "rollout", "workers", "env_workers", "device", "address")


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during training; says where the run stopped and how to continue it."""

    def __init__(self, out: Path, iteration: int, checkpoint_iteration: int) -> None:
        self.out, self.iteration, self.checkpoint_iteration = out, iteration, checkpoint_iteration
        super().__init__(
            f"interrupted at iteration {iteration} (last checkpoint: iteration {checkpoint_iteration}); "
            f"resume with matrl train --out {shlex.quote(str(out))} --resume"
        )


def train(
    config: TrainConfig | None,
    out: Path,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
    tensorboard: bool = True,
    extend_to: int | None = None,
    execution: Mapping[str, Any] | None = None,
    log_every: int | None = None,
    log_seconds: float = LOG_SECONDS,
) -> Path:
    """Train (or resume) a run in ``out`` and return the directory.

    The process holds ``out``'s `RunLock` throughout: a second train or resume of the same directory fails at
    once, naming this process. A fresh run writes its initial state (iteration 0) before it trains, so that
    ``resume`` works whenever it was stopped; a fresh start replaces a directory whose run never got past
    that.

    Args:
        config: the run's settings; with ``resume`` it must be None or equal to the saved config.
        out: run directory; must not hold a trained run unless resuming.
        resume: continue from ``out/checkpoints/state.pt``, bit-identically to an uninterrupted run.
        progress: show progress: a rich bar when stdout is a terminal, otherwise one plain line every
            ``log_every`` iterations or ``log_seconds`` seconds (so nohup, tee and cluster jobs are never
            silent).
        stop_after: stop after this many iterations in total (for tests of interrupted runs).
        tensorboard: write TensorBoard events.
        extend_to: with ``resume``, a new ``total_steps`` of at least the steps already done: a finished (or
            interrupted) run continues to it, exactly as a run started with that budget would (no setting
            depends on the budget but the number of iterations); config.json is rewritten with it.
        execution: with ``resume``, new values of `EXECUTION_FIELDS` (threads, rollout backend, ...) for this
            process only; config.json keeps the run's own.
        log_every: iterations between progress lines when stdout is not a terminal (default: about
            `LOG_LINES` lines per run).
        log_seconds: a progress line is also printed when this many seconds passed since the last one.

    Raises:
        RunLockedError: another process trains in ``out``.
        TrainingInterrupted: Ctrl-C; the run resumes from its last checkpoint.
    """
    out = Path(out)
    if log_every is not None and (isinstance(log_every, bool) or log_every < 1):
        raise ValueError(f"--log-every {log_every} is not allowed; expected a number of iterations >= 1")
    if not log_seconds > 0:
        raise ValueError(f"--log-seconds {log_seconds} is not allowed; expected a number of seconds > 0")
    if config is not None:
        config.validate()  # bad settings are refused before anything is created
    if resume and not (out / "config.json").is_file():
        raise FileNotFoundError(f"cannot resume: {out} holds no run (no config.json)")
    if out.exists() and not out.is_dir():
        raise ValueError(
            f"--out {out} is not allowed: it is a file; expected a directory (new or holding a run)"
        )
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    with RunLock(out):
        remove_stale_tmp([out, out / checkpoint.CHECKPOINT_DIR])
        try:
            logs = (log_every, log_seconds)
            return _train(config, out, resume, progress, stop_after, tensorboard, extend_to, execution, logs)
        except BaseException:
            if created and not (out / "config.json").exists():
                _remove_directory(out)  # failed before the run began (no Ray, bad env): leave no trace
            raise


def _remove_directory(out: Path) -> None:
    """Remove a run directory this process created, while still holding its lock (`RunLock` re-checks the
    lock file's identity, so unlinking it here cannot let two processes in)."""
    for name in ("tb", checkpoint.CHECKPOINT_DIR):
        shutil.rmtree(out / name, ignore_errors=True)
    (out / LOCK_FILE).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        out.rmdir()  # only if empty: anything else in it is not ours


def _train(
    config: TrainConfig | None,
    out: Path,
    resume: bool,
    progress: bool,
    stop_after: int | None,
    tensorboard: bool,
    extend_to: int | None,
    execution: Mapping[str, Any] | None,
    logging: tuple[int | None, float] = (None, LOG_SECONDS),
) -> Path:
    """`train` once the run directory is locked."""
    if resume:
        saved = TrainConfig.load(out / "config.json")
        if config is not None and config != saved:
            raise ValueError(f"--resume {out}: the given config differs from the saved {out / 'config.json'}")
        config = saved
        if not (out / checkpoint.CHECKPOINT_DIR / checkpoint.STATE_FILE).is_file():
            raise FileNotFoundError(
                f"cannot resume: {out} holds no training state (it stopped before writing its first one); "
                "start it again without --resume"
            )
        state = checkpoint.load_state(out)
        if extend_to is not None and extend_to != saved.total_steps:
            config = _extended(saved, extend_to, state, out)
        if execution:
            config = _with_execution(config, execution, out)
    else:
        if config is None:
            raise ValueError("train needs a config unless resuming")
        if extend_to is not None:
            raise ValueError("extend_to (--total-steps with --resume) needs resume")
        if execution:
            raise ValueError("execution (changed settings for --resume) needs resume")
        if (out / "config.json").exists():
            _clear_untrained(out)
        state = None
    config.validate()
    torch.set_num_threads(config.threads)
    collector = make_collector(config)
    try:
        learner = make_learner(config, collector)
        if state is not None:
            _load_state(out, learner, collector, state)
        else:
            write_text_atomically(out / "config.json", json.dumps(config.to_dict(), indent=2) + "\n")
            write_text_atomically(out / "versions.json", json.dumps(package_versions(), indent=2) + "\n")
            save_state(out, learner, collector)  # iteration 0: --resume works from the start
        _loop(config, out, learner, collector, progress, stop_after, tensorboard, logging)
    finally:
        close = getattr(collector, "close", None)
        if close is not None:
            close()
    return out


def _loop(
    config: TrainConfig,
    out: Path,
    learner: Any,
    collector: Collector,
    progress: bool,
    stop_after: int | None,
    tensorboard: bool,
    logging: tuple[int | None, float] = (None, LOG_SECONDS),
) -> None:
    """Iterations up to the budget (or ``stop_after``), each logged, with checkpoints as configured."""
    log = MetricsLog(out, resume_iteration=learner.iteration_count, tensorboard=tensorboard)
    total = config.iterations if stop_after is None else min(stop_after, config.iterations)
    saved, saved_at = learner.iteration_count, time.monotonic()
    try:
        bar = _ProgressBar(progress, config, total, learner.iteration_count, out, *logging)
        with bar as advance:
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
                    log.sync()
                    save_checkpoint(out, learner, collector)
                    saved, saved_at = done, time.monotonic()
                elif _checkpoint_due(config, saved_at):
                    log.sync()
                    save_state(out, learner, collector)  # for resume only: no model file between checkpoints
                    saved, saved_at = done, time.monotonic()
                advance(row)
    except KeyboardInterrupt as interrupt:
        raise TrainingInterrupted(out, learner.iteration_count, saved) from interrupt
    finally:
        log.close()


def _checkpoint_due(config: TrainConfig, saved_at: float) -> bool:
    """Whether ``checkpoint_every_seconds`` have passed since the last checkpoint."""
    every = config.checkpoint_every_seconds
    return every is not None and time.monotonic() - saved_at >= every


def _clear_untrained(out: Path) -> None:
    """Remove a run that holds no trained iteration (stopped before its first checkpoint after iteration 0),
    so that a fresh start can take the directory; refuse in one line if it holds more."""
    try:
        iteration = checkpoint.state_iteration(out) or 0
    except ValueError as err:
        raise ValueError(
            f"run directory {out} already holds a run whose training state is unreadable ({err}); move it "
            "away or use another --out"
        ) from None
    models = checkpoint.list_models(out)
    trained = max([iteration, *(i for i, _ in models)])
    if trained > 0 or models:
        raise ValueError(
            f"run directory {out} already holds a run (checkpointed at iteration {trained}); use --resume "
            f"{out} or another --out"
        )
    for name in ("config.json", "versions.json", "metrics.csv"):
        (out / name).unlink(missing_ok=True)
    for name in ("tb", checkpoint.CHECKPOINT_DIR):
        if (out / name).is_dir():
            shutil.rmtree(out / name)


def _with_execution(config: TrainConfig, execution: Mapping[str, Any], out: Path) -> TrainConfig:
    """``config`` with new execution settings for a resumed run; anything else is refused in one line."""
    other = sorted(set(execution) - set(EXECUTION_FIELDS))
    if other:
        raise ValueError(
            f"{', '.join(other)} cannot change on --resume {out} (the run keeps its config.json); only "
            f"total_steps and {', '.join(EXECUTION_FIELDS)} may"
        )
    changed = dataclasses.replace(config, **execution)
    if changed.num_envs != config.num_envs:
        raise ValueError(
            f"workers={changed.workers} is not allowed with --resume {out}: with envs_per_worker="
            f"{config.envs_per_worker} it would change num_envs from {config.num_envs}; expected "
            f"workers={config.workers} or a run with its own --out"
        )
    return changed


def _load_state(out: Path, learner: Any, collector: Collector, state: dict[str, Any]) -> None:
    """Restore a resumed run; a state that does not fit the config (another --hidden, env) is one line."""
    try:
        learner.load_state_dict(state["algorithm"])
        collector.load_state_dict(state["collector"])
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as err:
        detail = " ".join(str(err).split())
        raise ValueError(
            f"cannot resume: {out / checkpoint.CHECKPOINT_DIR / checkpoint.STATE_FILE} does not fit "
            f"{out / 'config.json'} ({detail[:300]}); was one of them replaced?"
        ) from None
    note = getattr(collector, "resume_note", None)
    if note:
        print(f"matrl: {note}", file=sys.stderr)  # once per resume: envs that cannot be snapshotted


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
    """Model weights for evaluation, then the full state for resume (each file atomic and checksummed)."""
    config = learner.config.to_dict()
    checkpoint.save_model(
        checkpoint.model_path(out, learner.iteration_count),
        learner.net,
        config,
        learner.iteration_count,
        learner.env_steps,
    )
    save_state(out, learner, collector)


def save_state(out: Path, learner: Any, collector: Collector) -> None:
    """The full training state for resume (``checkpoints/state.pt``, replaced atomically)."""
    checkpoint.save_state(out, {"algorithm": learner.state_dict(), "collector": collector.state_dict()})


class _ProgressBar:
    """A rich progress bar over iterations showing env steps, return and speed when stdout is a terminal;
    otherwise plain log lines (`_LogLines`), since rich draws nothing but the end state there; a no-op when
    disabled."""

    def __init__(
        self,
        enabled: bool,
        config: TrainConfig,
        total: int,
        done: int,
        out: Path | None = None,
        log_every: int | None = None,
        log_seconds: float = LOG_SECONDS,
    ) -> None:
        self.enabled = enabled and total > done
        self.config, self.total, self.done = config, total, done
        self.out, self.log_every, self.log_seconds = out, log_every, log_seconds
        self._progress: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda row: None
        if not _stdout_is_terminal():
            every = self.log_every or max(1, -(-self.total // LOG_LINES))
            return _LogLines(self.config, self.total, self.done, self.out, every, self.log_seconds)
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


def _stdout_is_terminal() -> bool:
    """Whether stdout is a terminal (a closed or replaced stdout is not)."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


class _LogLines:
    """Progress as one plain, flushed line on stdout every ``every`` iterations or ``seconds`` seconds (and at
    the first and last iteration): env steps, steps/s since the last line, the latest mean episode return
    (of the last iteration in which episodes ended) and, for the algorithms that play the meta-game, how many
    agents kept pi_i (rho_i >= 0.5) and the mean rho."""

    def __init__(
        self, config: TrainConfig, total: int, done: int, out: Path | None, every: int, seconds: float
    ) -> None:
        self.config, self.total, self.every, self.seconds = config, total, every, seconds
        self.start = self.last_time = time.monotonic()
        self.first, self.last_iteration, self.last_steps = done, done, done * config.steps_per_iteration
        self.last_return = float("nan")  # the latest iteration's mean episode return (NaN: none ended yet)
        where = f" -> {out}" if out is not None else ""
        resumed = f", from iteration {done}" if done else ""
        _print_line(
            f"matrl: training {config.algo} on {config.env} seed {config.seed}: {total} iterations "
            f"({total * config.steps_per_iteration} env steps{resumed}){where}; a line every {every} "
            f"iterations or {seconds:g} s"
        )

    def __call__(self, row: dict[str, float]) -> None:
        iteration, now = int(row["iteration"]), time.monotonic()
        if row.get("total_return", float("nan")) == row.get("total_return"):  # not NaN: episodes ended
            self.last_return = row["total_return"]
        due = iteration - self.last_iteration >= self.every or now - self.last_time >= self.seconds
        if not (due or iteration == self.first + 1 or iteration >= self.total):
            return
        steps = int(row["env_steps"])
        speed = (steps - self.last_steps) / max(now - self.last_time, 1e-9)
        elapsed = now - self.start
        remaining = elapsed / (iteration - self.first) * (self.total - iteration)
        parts = [
            f"iter {iteration}/{self.total}",
            f"env_steps {steps} ({100 * iteration / self.total:.0f}%)",
            f"{speed:.0f} steps/s",
            f"return {self.last_return:.3g}" if self.last_return == self.last_return else "return n/a",
        ]
        rho = [v for k, v in row.items() if k.startswith("rho_") and k[4:].isdigit()]
        if rho:
            kept = sum(r >= 0.5 for r in rho)
            parts.append(f"rho keep {kept}/{len(rho)} agents (mean {sum(rho) / len(rho):.2f})")
        parts.append(f"elapsed {_clock(elapsed)} eta {_clock(remaining)}")
        _print_line("matrl: " + "  ".join(parts))
        self.last_iteration, self.last_time, self.last_steps = iteration, now, steps


def _print_line(text: str) -> None:
    """One progress line, flushed at once (a pipe or file is block-buffered otherwise)."""
    print(text, flush=True)


def _clock(seconds: float) -> str:
    """``H:MM:SS`` for a log line."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
