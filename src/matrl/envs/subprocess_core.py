"""A batched core whose copies are sharded over worker processes, so that several simulators step at once.

MuJoCo and Pong copies are stepped one after another in Python; with ``num_workers`` processes each steps its
share of the copies while the others (and the parent, running the policy) do their work. Worker w builds
``factory(num_envs=E_w, seed=seed + first_copy_of_w, **kwargs)``, so copy k always gets seed ``seed + k`` and
every number is the same as the in-process core's whatever ``num_workers`` is. Messages are small pickled
numpy arrays over pipes. Workers are started with "spawn" (the parent usually has torch loaded, and forking a
process with torch's threads is unsafe).
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import signal
import traceback
import weakref
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from matrl.envs.core import StepResult
from matrl.envs.spec import ActionSpec

#: Core attributes copied to the parent (those present on the worker's core).
_ATTRIBUTES = (
    "env_id",
    "n_agents",
    "agent_ids",
    "obs_dim",
    "n_actions",
    "action_spec",
    "max_steps",
    "autoreset",
    "allowed_actions",
    "obs_dims",
    "action_dims",
    "state_dim",
    "obs_shape",
    "obs_dtype",
)


def _worker(
    conn: Connection,
    factory: Callable[..., Any],
    num_envs: int,
    seed: int,
    offset: int,
    kwargs: dict[str, Any],
) -> None:
    """Serve one shard: build the core, then answer (command, argument) messages until "close" or EOF."""
    # Ctrl-C reaches the whole process group; the parent handles it and closes the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    core: Any = None
    try:
        core = factory(num_envs=num_envs, seed=seed, **kwargs)
        if hasattr(core, "copy_offset"):
            core.copy_offset = offset  # error messages name the copy's index in the whole batch
        _put(conn, ("ok", {name: getattr(core, name) for name in _ATTRIBUTES if hasattr(core, name)}))
    except Exception as err:
        _send_error(conn, err)
        return
    try:
        while True:
            command, arg = _get(conn)
            if command == "close":
                break
            try:
                if command == "step":
                    reply: Any = core.step(arg)
                elif command == "reset":
                    reply = core.reset(arg)
                elif command == "state_dict":
                    reply = core.state_dict()
                elif command == "load_state_dict":
                    reply = core.load_state_dict(arg)
                else:
                    raise ValueError(f"unknown worker command {command!r}")
                _put(conn, ("ok", reply))
            except Exception as err:
                _send_error(conn, err)
    except (EOFError, OSError):  # the parent went away
        pass
    finally:
        if hasattr(core, "close"):
            core.close()
        conn.close()


def _send_error(conn: Connection, err: Exception) -> None:
    """Send the exception itself (same type and message in the parent), or a RuntimeError if it can't."""
    remote = traceback.format_exc()
    try:
        payload = pickle.dumps(("error", (err, remote)), protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(payload)  # some exception classes pickle but cannot be rebuilt
    except Exception:
        payload = pickle.dumps(("error", (RuntimeError(f"{type(err).__name__}: {err}"), remote)))
    conn.send_bytes(payload)


def _put(conn: Connection, message: Any) -> None:
    """Send with the C pickler (multiprocessing's own, a Python subclass, is several times slower)."""
    conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def _get(conn: Connection) -> Any:
    return pickle.loads(conn.recv_bytes())


def _shutdown(conns: Sequence[Connection], procs: Sequence[BaseProcess]) -> None:
    """Ask every worker to stop, wait briefly, then terminate stragglers (also runs at exit or on GC)."""
    for conn in conns:
        try:
            _put(conn, ("close", None))
        except (OSError, ValueError):
            pass
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
    for conn in conns:
        conn.close()


class SubprocessVectorCore:
    """A core's E copies split over ``num_workers`` processes; same attributes and methods as the core.

    Copies 0..E-1 are dealt in contiguous blocks (the first ``E % num_workers`` workers get one more).
    ``step`` sends every worker its slice before it waits for any answer. An exception in a worker is raised
    again in the parent with its type and one-line message (the worker's traceback is attached as a note);
    after such an error in ``step`` the other workers have stepped, so ``reset()`` before going on. A worker
    that died raises a RuntimeError. Workers are closed by ``close()``, on garbage collection or at exit.
    """

    env_id: str
    n_agents: int
    agent_ids: tuple[str, ...]
    obs_dim: int
    n_actions: int
    action_spec: ActionSpec
    max_steps: int
    autoreset: bool

    def __init__(
        self, factory: Callable[..., Any], num_envs: int, num_workers: int, seed: int = 0, **kwargs: Any
    ) -> None:
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if not 1 <= int(num_workers) <= int(num_envs):
            raise ValueError(f"num_workers={num_workers} is not allowed; expected 1..num_envs={num_envs}")
        self.num_envs, self.num_workers, self.seed = int(num_envs), int(num_workers), int(seed)
        base, extra = divmod(self.num_envs, self.num_workers)
        self.sizes: tuple[int, ...] = tuple(base + (w < extra) for w in range(self.num_workers))
        self.starts: tuple[int, ...] = tuple(int(s) for s in np.cumsum((0, *self.sizes[:-1])))
        self._bounds = np.cumsum(self.sizes)[:-1]
        ctx = mp.get_context("spawn")
        self._conns: list[Connection] = []
        self._procs: list[BaseProcess] = []
        for size, start in zip(self.sizes, self.starts, strict=True):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_worker,
                args=(child, factory, size, self.seed + start, start, kwargs),
                daemon=True,
                name=f"matrl-env-worker-{start}",
            )
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        self._finalizer = weakref.finalize(self, _shutdown, list(self._conns), list(self._procs))
        try:
            attributes = self._receive_all()[0]
        except BaseException:
            self.close()
            raise
        for name, value in attributes.items():
            setattr(self, name, value)

    # ------------------------------------------------------------------ public API
    def reset(self, seed: int | None = None) -> NDArray[np.float32]:
        """Reset every copy; copy k gets ``seed + k`` (see the core's ``reset``)."""
        for w, start in enumerate(self.starts):
            self._send(w, "reset", None if seed is None else int(seed) + start)
        return np.concatenate(self._receive_all())

    def step(self, actions: ArrayLike) -> StepResult:
        """Advance every copy by one joint action; the batch's first axis is split over the workers."""
        a = np.asarray(actions)
        if a.ndim < 1 or a.shape[0] != self.num_envs:
            raise ValueError(
                f"actions must have num_envs={self.num_envs} rows (first axis), got shape {a.shape}"
            )
        for w, part in enumerate(np.split(a, self._bounds)):
            self._send(w, "step", part)
        return _merge_results(self._receive_all())

    def state_dict(self) -> dict[str, NDArray[Any]]:
        """The workers' snapshots joined along the copy axis (the same arrays the in-process core gives)."""
        for w in range(self.num_workers):
            self._send(w, "state_dict", None)
        parts = self._receive_all()
        return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}

    def load_state_dict(self, state: Mapping[str, ArrayLike]) -> None:
        """Split a snapshot along the copy axis and load each worker's part (each checks its part)."""
        arrays = {key: np.asarray(value) for key, value in state.items()}
        for key, value in arrays.items():
            if value.ndim < 1 or value.shape[0] != self.num_envs:
                raise ValueError(
                    f"state key {key!r} must have num_envs={self.num_envs} rows, got shape {value.shape}"
                )
        for w in range(self.num_workers):
            lo, hi = self.starts[w], self.starts[w] + self.sizes[w]
            self._send(w, "load_state_dict", {key: value[lo:hi] for key, value in arrays.items()})
        self._receive_all()

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    # ------------------------------------------------------------------ helpers
    def _send(self, w: int, command: str, arg: Any) -> None:
        if self.closed:
            raise RuntimeError("SubprocessVectorCore is closed")
        try:
            _put(self._conns[w], (command, arg))
        except (OSError, ValueError):
            raise self._dead(w) from None

    def _receive_all(self) -> list[Any]:
        """One reply per worker (all read, so the pipes stay in step), then the first error is raised."""
        replies: list[Any] = []
        error: BaseException | None = None
        for w, conn in enumerate(self._conns):
            try:
                status, payload = _get(conn)
            except (EOFError, OSError):
                error = error or self._dead(w)
                replies.append(None)
                continue
            if status == "error":
                err, remote = payload
                err.add_note(f"(raised in env worker {w}; its traceback:)\n{remote}")
                error = error or err
            replies.append(payload)
        if error is not None:
            raise error
        return replies

    def _dead(self, w: int) -> RuntimeError:
        proc = self._procs[w]
        proc.join(timeout=1)
        return RuntimeError(
            f"env worker {w} (pid {proc.pid}, copies {self.starts[w]}..{self.starts[w] + self.sizes[w] - 1}) "
            f"died with exit code {proc.exitcode}"
        )


def _merge_results(parts: Sequence[StepResult]) -> StepResult:
    """Join the workers' step results along the copy axis (``obs is final_obs`` kept when no copy reset)."""
    fields = {
        name: np.concatenate([getattr(p, name) for p in parts])
        for name in StepResult._fields
        if name != "info"
    }
    if all(p.obs is p.final_obs for p in parts):
        fields["obs"] = fields["final_obs"]
    info = {key: np.concatenate([p.info[key] for p in parts]) for key in parts[0].info}
    return StepResult(info=info, **fields)
