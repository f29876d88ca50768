"""Distributed collection: the env copies sharded over Ray actors, each acting with a CPU copy of the policy.

``RayCollector(env_id, num_envs, workers=K)`` splits the copies into K contiguous shards of E = num_envs / K;
actor k steps copies [k E, (k + 1) E) in a `LocalCollector` of its own, and for the seeded envs (MuJoCo,
Pong) gets ``seed + k E`` so copy c is always seeded ``seed + c``, exactly as the in-process core seeds it.
Episodes run on across iterations inside the actors. Each ``collect``:

1. puts the policy network into Ray's object store once for all actors: the pickled CPU module the first
   time (and whenever the architecture changes), only its ``state_dict`` afterwards;
2. sends every actor the object references, its sampling input and (after a resume or a restart) the env
   state it must continue from; the actor loads the weights and collects ``steps_per_env`` steps;
3. gathers the shards' batches and joins them along the copy axis into exactly the local layout (T, E, A,
   ...), finished episodes in the local order (by step, then by copy).

Sampling: with one worker the actor draws from the learner's own generator state and hands the advanced
state back, so a run is bit-identical to the local backend. With K > 1 each iteration draws one seed from the
learner's generator and shard k samples with a generator seeded from (that seed, index of its first copy):
the same numbers for the same seed and K whichever actor runs a shard or finishes first, but other actions
than K = 1.

Third-party PettingZoo envs (``pettingzoo:`` ids, entry points, `register_env` names, whose factory is sent
to the actors with Ray's pickle) collect the same way. They cannot be snapshotted: their saved state is only
the steps taken, so a resume and a restarted actor start fresh episodes from a derived seed (see
`LocalCollector`), exact for the learner but not for the env, and both say so.

Faults: every actor is created with ``max_restarts``; the collector keeps each shard's env state as of the
end of its last successful collection. When an actor dies during collection, the collector waits for Ray's
restart (or creates a fresh actor once the restarts are spent), loads the saved env state into it and
collects that shard again with the same inputs, so the batch is the one an unbroken run gets. Each such
event is logged as a warning and counted in ``restarts``.

``import ray`` happens only when a collector is built; without it the error names the ``ray`` extra.
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from matrl.envs.registry import register_env, registered_factory
from matrl.envs.spec import ActionSpec
from matrl.rollout.base import ActFn, Batch, EnvActionFn
from matrl.rollout.local import RESTART_KEY, LocalCollector
from matrl.rollout.policy import NetworkPolicy

logger = logging.getLogger(__name__)

#: The one-line error when Ray is missing.
RAY_MISSING = '--rollout ray needs Ray: pip install "matrl[ray]"'

#: Fields of `Batch` with a copy axis (axis 1), joined shard after shard.
_STEP_FIELDS = ("obs", "actions", "logp", "values", "rewards", "next_obs", "terminated", "episode_over")
#: Optional (T, E, A) fields of `Batch` (agents that leave or join), joined the same way when given.
_MASK_FIELDS = ("active", "agent_terminated")


#: Seconds a ``HOST:PORT`` cluster address may take to accept a TCP connection before the run fails (ray.init
#: itself keeps retrying an unreachable address for minutes).
CONNECT_TIMEOUT_S = 10.0


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail in one line unless ``address`` (``HOST:PORT`` or ``ray://HOST:PORT``) accepts a TCP connection
    within ``timeout`` seconds; ``auto`` is left to Ray, which fails fast when there is no local cluster.

    This bounds the wait for a wrong or closed address; a port that accepts connections but is not a Ray
    head can still make ray.init wait for its own timeouts.
    """
    if address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"address={address!r} is not allowed; expected 'auto', HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as err:
        reason = "timed out" if isinstance(err, TimeoutError) else (err.strerror or str(err))
        raise ValueError(
            f"address={address!r}: no Ray cluster answers there ({reason}, waited up to {timeout:g} s); "
            "start one with `ray start --head`, or leave --address out for a Ray instance of this run"
        ) from None


def import_ray() -> Any:
    """The ``ray`` module, or an ImportError naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise ImportError(RAY_MISSING) from None
    return ray


def shard_seed(seed: int, first_copy: int) -> int:
    """Seed of the sampling generator of the shard starting at copy ``first_copy`` (K > 1)."""
    return int(np.random.SeedSequence([seed, first_copy]).generate_state(1, dtype=np.uint64)[0])


def concatenate_shards(parts: Sequence[Batch]) -> Batch:
    """Join shards' batches (T, E_k, ...) along the copy axis into one batch (T, sum E_k, ...).

    Finished episodes are ordered by the step they ended at, then by copy, as `LocalCollector` lists them.
    """
    if not parts:
        raise ValueError("concatenate_shards needs at least one batch")
    arrays = {name: np.concatenate([getattr(p, name) for p in parts], axis=1) for name in _STEP_FIELDS}
    total = arrays["episode_over"].shape[1]
    keys: list[NDArray[np.int64]] = []
    offset = 0
    for p in parts:
        steps, copies = np.nonzero(p.episode_over)
        if len(steps) != len(p.episode_lengths) or len(steps) != len(p.episode_returns):
            raise ValueError(
                f"a shard lists {len(p.episode_lengths)} finished episodes but ends {len(steps)} of them"
            )
        keys.append(steps.astype(np.int64) * total + offset + copies)
        offset += p.episode_over.shape[1]
    order = np.argsort(np.concatenate(keys), kind="stable")
    returns = np.concatenate([p.episode_returns for p in parts])[order]
    lengths = np.concatenate([p.episode_lengths for p in parts])[order]
    masks: dict[str, Any] = {}
    for name in _MASK_FIELDS:  # per-agent masks of cores that report them (every shard has the same env)
        given = [getattr(p, name) for p in parts]
        if any(m is not None for m in given):
            if any(m is None for m in given):
                raise ValueError(f"some shards give {name} and some do not")
            masks[name] = np.concatenate(given, axis=1)
    return Batch(**arrays, episode_returns=returns, episode_lengths=lengths, **masks)


@dataclass
class _Shard:
    """What the learner keeps of one actor's share: its copies and its env state after the last collection."""

    first: int
    size: int
    env_kwargs: dict[str, Any]
    state: dict[str, NDArray[Any]]
    dirty: bool = False
    """The actor's env does not hold ``state`` (after ``load_state_dict``): send it with the next call."""


class RolloutWorker:
    """The body of one Ray actor: a shard of env copies in a `LocalCollector` and a CPU copy of the policy."""

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        threads: int,
        env_kwargs: dict[str, Any],
        factory: Any = None,
    ) -> None:
        torch.set_num_threads(threads)
        if factory is not None:  # a register_env name is known only to the process that registered it
            register_env(env_id, factory)
        self.env_args = (env_id, num_envs, env_kwargs)
        self._collector: LocalCollector | None = None
        self.net: Any = None
        self.net_key: str | None = None
        self.crash_countdown: int | None = None

    @property
    def collector(self) -> LocalCollector:
        """The shard's envs, built on first use (so that a bad env argument fails a call, not the actor)."""
        if self._collector is None:
            env_id, num_envs, env_kwargs = self.env_args
            self._collector = LocalCollector(env_id, num_envs, **env_kwargs)
        return self._collector

    def info(self) -> dict[str, Any]:
        """The env's shape attributes and the shard's env state (the learner keeps it for restarts)."""
        c = self.collector
        return {
            "n_agents": c.n_agents,
            "obs_dim": c.obs_dim,
            "n_actions": c.n_actions,
            "action_spec": c.action_spec,
            "obs_dtype": c.obs_dtype,
            "obs_shape": c.obs_shape,
            "state": c.state_dict(),
        }

    def ping(self) -> int:
        """Answer once the actor is up (after a restart, too); returns the process id."""
        return os.getpid()

    def crash_after_steps(self, steps: int) -> None:
        """Test hook: the process dies (``os._exit``) in the collection that would take its ``steps + 1``-th
        step from now. A restarted actor has forgotten this, so its re-collection succeeds."""
        self.crash_countdown = int(steps)

    def collect(
        self,
        refs: list[Any],
        steps_per_env: int,
        sampling: tuple[str, Any],
        use_to_env: bool,
        env_state: dict[str, NDArray[Any]] | None,
    ) -> tuple[Batch, dict[str, NDArray[Any]], torch.Tensor, float]:
        """Load the weights (``refs``: module, state dict or None) and the env state if given, then collect.

        ``sampling`` is ("state", generator state) or ("seed", seed). Returns the batch, the env state after
        it, the generator's state after it and the seconds this call took in the actor.
        """
        import ray

        start = time.perf_counter()
        module_ref, state_ref = refs
        if self.net_key != module_ref.hex():
            self.net = ray.get(module_ref)
            self.net_key = module_ref.hex()
        if state_ref is not None:
            self.net.load_state_dict(ray.get(state_ref))
        if env_state is not None:
            self.collector.load_state_dict(env_state)
        generator = torch.Generator()
        kind, value = sampling
        if kind == "state":
            generator.set_state(value)
        else:
            generator.manual_seed(int(value))
        policy = NetworkPolicy(self.net, generator)
        act: ActFn = policy if self.crash_countdown is None else self._crashing(policy)
        batch = self.collector.collect(act, steps_per_env, to_env=policy.to_env if use_to_env else None)
        return batch, self.collector.state_dict(), generator.get_state(), time.perf_counter() - start

    def close(self) -> None:
        """Release the env copies."""
        if self._collector is not None:
            self._collector.close()

    def _crashing(self, act: ActFn) -> ActFn:
        def crash(obs: NDArray[Any]) -> Any:
            if self.crash_countdown is not None:
                if self.crash_countdown <= 0:
                    os._exit(1)
                self.crash_countdown -= 1
            return act(obs)

        return crash


class RayCollector:
    """Collects from ``num_envs`` copies sharded over ``workers`` Ray actors; the batches of `LocalCollector`.

    Args:
        env_id: environment id.
        num_envs: env copies in all; a multiple of ``workers``.
        workers: Ray actors, each with ``num_envs / workers`` copies.
        threads: torch threads of each actor (as the learner's, so that the policy computes the same numbers).
        address: Ray cluster to join (``auto``, ``HOST:PORT``) if Ray is not initialised in this process yet;
            None starts a local instance (with at least ``workers`` CPUs).
        env_kwargs: environment constructor arguments; ``seed`` (MuJoCo, Pong) is offset per shard so that
            copy c gets ``seed + c``, and ``num_workers`` (env processes) applies inside each actor.
        num_cpus: CPUs Ray reserves for each actor.
        max_restarts: restarts Ray grants each actor; after that a dead actor is replaced by a new one.

    ``close()`` kills the actors, and shuts Ray down only if this collector started it.
    """

    def __init__(
        self,
        env_id: str,
        num_envs: int,
        workers: int = 1,
        *,
        threads: int = 1,
        address: str | None = None,
        env_kwargs: Mapping[str, Any] | None = None,
        num_cpus: float = 1.0,
        max_restarts: int = 3,
    ) -> None:
        if not 1 <= workers <= num_envs or num_envs % workers:
            raise ValueError(
                f"workers={workers} is not allowed; expected a divisor of num_envs={num_envs} (each worker "
                "holds num_envs / workers env copies)"
            )
        ray = import_ray()
        self._ray = ray
        self._owns_ray = False
        if not ray.is_initialized():
            if address is None:
                ray.init(num_cpus=max(os.cpu_count() or 1, workers), include_dashboard=False)
            else:
                check_reachable(address)
                try:
                    ray.init(address=address)
                except ConnectionError as err:
                    raise ValueError(
                        f"address={address!r}: no Ray cluster to join ({err}); start one with `ray start "
                        "--head`, or leave --address out for a Ray instance of this run"
                    ) from None
            self._owns_ray = True
        self.num_envs, self.workers = int(num_envs), int(workers)
        self.env_id, self.threads = env_id, int(threads)
        self.num_cpus, self.max_restarts = float(num_cpus), int(max_restarts)
        self.restarts = 0
        """Workers that died during collection and were restarted (or replaced) since this collector began."""
        self.factory = registered_factory(env_id)
        self.resume_note: str | None = None
        """One line for the user after a resume that restarted the episodes (envs without snapshots)."""
        self.timings: dict[str, float] = {}
        """Seconds of the last ``collect``: ``put`` (weights into the object store), ``wait`` (until every
        shard arrived), ``gather`` (joining the shards), ``worker`` (the slowest actor's own time for its
        call: loading the weights and collecting; ``wait - worker`` is the transfer and scheduling cost)."""
        size = self.num_envs // self.workers
        kwargs = dict(env_kwargs or {})
        shards = []
        for k in range(self.workers):
            shard_kwargs = dict(kwargs)
            if "seed" in shard_kwargs:
                shard_kwargs["seed"] = int(shard_kwargs["seed"]) + k * size
            shards.append(_Shard(first=k * size, size=size, env_kwargs=shard_kwargs, state={}))
        self._shards = shards
        self._actors: list[Any] = []
        self._module_ref: Any = None
        self._module_signature: tuple[Any, ...] | None = None
        try:
            self._check_cpus()
            self._actors = [self._new_actor(k) for k in range(self.workers)]
            infos = ray.get([actor.info.remote() for actor in self._actors])
        except ray.exceptions.RayTaskError as err:
            self.close()
            raise _cause(err) from None
        except BaseException:
            self.close()
            raise
        info = copy.deepcopy(infos[0])  # writable copies of what Ray returned read-only (the action spec)
        self.n_agents: int = info["n_agents"]
        self.obs_dim: int = info["obs_dim"]
        self.n_actions: int = info["n_actions"]
        self.action_spec: ActionSpec = info["action_spec"]
        self.obs_dtype: np.dtype[Any] = np.dtype(info["obs_dtype"])
        self.obs_shape: tuple[int, ...] | None = info["obs_shape"]
        for shard, shard_info in zip(self._shards, infos, strict=True):
            shard.state = _own(shard_info["state"])

    @property
    def actors(self) -> tuple[Any, ...]:
        """The Ray actor handles, shard by shard (for diagnostics and tests)."""
        return tuple(self._actors)

    # ------------------------------------------------------------------ Collector API
    def collect(self, act: ActFn, steps_per_env: int, to_env: EnvActionFn | None = None) -> Batch:
        """Every actor steps its copies ``steps_per_env`` times with the current weights of ``act``.

        ``act`` must be a `NetworkPolicy` (the actors rebuild it from its network); ``to_env``, if given, must
        be the policy's own ``to_env`` (the actors apply their copy's).
        """
        if not isinstance(act, NetworkPolicy):
            raise TypeError(
                f"RayCollector needs a NetworkPolicy to act (it ships the network to its workers), got "
                f"{type(act).__name__}; Ray rollouts are for the PPO-family algos"
            )
        if steps_per_env < 1:
            raise ValueError(f"steps_per_env must be >= 1, got {steps_per_env}")
        start = time.perf_counter()
        refs = self._publish(act.net)
        if self.workers == 1:
            samplings: list[tuple[str, Any]] = [("state", act.sampler.get_state())]
        else:
            seed = int(torch.randint(0, 2**62, (1,), generator=act.sampler).item())
            samplings = [("seed", shard_seed(seed, shard.first)) for shard in self._shards]
        use_to_env = to_env is not None
        put = time.perf_counter()
        calls = [self._call(k, refs, steps_per_env, samplings[k], use_to_env) for k in range(self.workers)]
        results = []
        for k, call in enumerate(calls):
            results.append(self._result(k, call, refs, steps_per_env, samplings[k], use_to_env))
        waited = time.perf_counter()
        batch = concatenate_shards([r[0] for r in results])
        for shard, (_, state, _, _) in zip(self._shards, results, strict=True):
            shard.state, shard.dirty = _own(state), False
        if self.workers == 1:
            act.sampler.set_state(results[0][2])
        end = time.perf_counter()
        self.timings = {
            "put": put - start,
            "wait": waited - put,
            "gather": end - waited,
            "worker": max(r[3] for r in results),
        }
        return batch

    def state_dict(self) -> dict[str, np.ndarray]:
        """The shards' env states joined along the copy axis: the keys and arrays `LocalCollector` gives (for
        an env without snapshots, the steps taken, the same in every shard)."""
        states = [shard.state for shard in self._shards]
        if RESTART_KEY in states[0]:
            return {RESTART_KEY: np.array(states[0][RESTART_KEY])}
        return {key: np.concatenate([s[key] for s in states]) for key in states[0]}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Split a `state_dict` (of this collector or a `LocalCollector` of as many copies) over the shards;
        each actor loads its part before its next collection."""
        arrays = {key: np.asarray(value) for key, value in state.items()}
        if RESTART_KEY in arrays:  # an env without snapshots: every shard restarts after the same steps
            for shard in self._shards:
                shard.state, shard.dirty = {RESTART_KEY: arrays[RESTART_KEY].copy()}, True
            self.resume_note = (
                f"note: resumed with fresh episodes of {self.env_id} (each worker's copies from a seed "
                "derived from their first seed and the steps taken): exact for the learner (networks, "
                "optimisers, RNG), not bit-identical for the env, whose state cannot be saved"
            )
            return
        for key, value in arrays.items():
            if value.ndim < 1 or value.shape[0] != self.num_envs:
                raise ValueError(
                    f"collector state {key!r} must have num_envs={self.num_envs} rows, got {value.shape}"
                )
        for shard in self._shards:
            lo, hi = shard.first, shard.first + shard.size
            shard.state = {key: value[lo:hi].copy() for key, value in arrays.items()}
            shard.dirty = True

    def close(self) -> None:
        """Kill the actors; shut Ray down if this collector started it (idempotent)."""
        ray = self._ray
        actors, self._actors = self._actors, []
        for actor in actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # already gone
                pass
        self._module_ref = None
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()
        self._owns_ray = False

    # ------------------------------------------------------------------ helpers
    def _new_actor(self, k: int) -> Any:
        remote = self._ray.remote(RolloutWorker).options(
            num_cpus=self.num_cpus,
            max_restarts=self.max_restarts,
            max_task_retries=0,  # a retried call would start from the restarted actor's fresh env
            scheduling_strategy="SPREAD",
        )
        shard = self._shards[k]
        return remote.remote(self.env_id, shard.size, self.threads, shard.env_kwargs, self.factory)

    def _publish(self, net: torch.nn.Module) -> list[Any]:
        """Object references [module, state dict or None]: the state dict is put once for all actors; the
        module only when it is new (its own weights are current then)."""
        ray = self._ray
        signature = (
            type(net),
            tuple((k, tuple(v.shape), v.dtype) for k, v in net.state_dict().items()),
        )
        if self._module_ref is None or signature != self._module_signature:
            module = copy.deepcopy(net).cpu()
            self._module_ref = ray.put(module)
            self._module_signature = signature
            return [self._module_ref, None]
        state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
        return [self._module_ref, ray.put(state)]

    def _call(self, k: int, refs: list[Any], steps: int, sampling: tuple[str, Any], use_to_env: bool) -> Any:
        shard = self._shards[k]
        env_state = shard.state if shard.dirty else None
        # refs go inside a list so that Ray passes the references and the actor fetches only what it needs.
        return self._actors[k].collect.remote(refs, steps, sampling, use_to_env, env_state)

    def _result(
        self, k: int, call: Any, refs: list[Any], steps: int, sampling: tuple[str, Any], use_to_env: bool
    ) -> Any:
        """The shard's result; if its actor died, restart it from the saved env state and collect again."""
        ray = self._ray
        failures = 0
        while True:
            try:
                result = ray.get(call)
            except ray.exceptions.RayTaskError as err:
                raise _cause(err) from None
            except ray.exceptions.RayActorError as err:
                failures += 1
                if failures > self.max_restarts + 1:
                    raise RuntimeError(
                        f"rollout worker {k} died {failures} times while collecting one batch; giving up"
                    ) from err
                logger.debug("rollout worker %d died: %s", k, err)
                self._revive(k)
                self._shards[k].dirty = True  # the new process starts from a fresh env
                call = self._call(k, refs, steps, sampling, use_to_env)
                continue
            if failures:
                self.restarts += 1
                restarted = RESTART_KEY in self._shards[k].state
                logger.warning(
                    "rollout worker %d (env copies %d..%d) died during collection; restarted and "
                    "re-collected its share%s",
                    k,
                    self._shards[k].first,
                    self._shards[k].first + self._shards[k].size - 1,
                    " from fresh episodes (this env cannot be snapshotted)" if restarted else "",
                )
            return result

    def _revive(self, k: int, timeout: float = 120.0) -> None:
        """Wait until Ray has restarted actor k; replace it by a new actor if it is dead for good."""
        ray = self._ray
        deadline = time.monotonic() + timeout
        while True:
            try:
                ray.get(self._actors[k].ping.remote(), timeout=max(1.0, deadline - time.monotonic()))
                return
            except ray.exceptions.ActorUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
            except ray.exceptions.RayActorError:
                logger.warning("rollout worker %d is out of restarts; starting a new one", k)
                self._actors[k] = self._new_actor(k)
                ray.get(self._actors[k].ping.remote(), timeout=timeout)
                return

    def _check_cpus(self) -> None:
        """Fail now rather than wait forever for actors that the cluster has no CPUs for."""
        available = self._ray.cluster_resources().get("CPU", 0.0)
        needed = self.workers * self.num_cpus
        if needed > available:
            raise ValueError(
                f"workers={self.workers} is not allowed here: the rollout workers reserve {needed:g} CPUs "
                f"(num_cpus={self.num_cpus:g} each) but the Ray cluster has {available:g}; use fewer workers "
                "or add nodes"
            )


def _cause(err: Any) -> BaseException:
    """The exception an actor raised (say a ValueError about the env arguments), not Ray's wrapper of it, so
    that the command line reports it in one line; Ray's traceback is attached as a note."""
    cause = getattr(err, "cause", None)
    if not isinstance(cause, Exception):
        return err
    cause.add_note(f"(raised in a rollout worker; Ray's report:)\n{err}")
    return cause


def _own(state: Mapping[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
    """Private copies of arrays that Ray returned as read-only views (which would pin the whole reply,
    batch included, in the object store)."""
    return {key: np.array(value) for key, value in state.items()}
