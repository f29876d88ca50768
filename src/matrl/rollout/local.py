"""In-process collection: one batched numpy core steps all env copies; the policy acts for all at once."""

from __future__ import annotations

from typing import Any

import numpy as np

from matrl.envs import env_capabilities, make_vector_env
from matrl.envs.spec import ActionSpec
from matrl.rollout.base import ActFn, Batch, EnvActionFn

#: The one key of the state of a core without snapshots: the steps taken (not per copy).
RESTART_KEY = "restart_steps"


class LocalCollector:
    """Collects from ``num_envs`` copies of one environment in this process.

    Episodes run on across ``collect`` calls (nothing is abandoned at a batch boundary, unlike the original
    code, which reset the env every epoch); the grid worlds are deterministic, so the only randomness is in
    the actions, which the ``act`` function draws from its own seeded generator.

    Observations are stored with the core's ``obs_dtype`` (uint8 pixels for Pong, float32 for every core that
    does not declare one), and ``obs_shape`` is the core's image shape (C, H, W) or None for flat vectors.

    A core with ``snapshots = False`` (third-party PettingZoo envs) cannot save its state: `state_dict` then
    holds only the steps taken, and `load_state_dict` restarts every episode from a seed derived from the
    core's seed and those steps (the same on every resume of one checkpoint), setting ``resume_note``.
    """

    def __init__(self, env_id: str, num_envs: int, **env_kwargs: Any) -> None:
        self.core = make_vector_env(env_id, num_envs, **env_kwargs)
        self.num_envs = self.core.num_envs
        self.n_agents = self.core.n_agents
        self.obs_dim = self.core.obs_dim
        self.n_actions = self.core.n_actions
        self.action_spec: ActionSpec = self.core.action_spec
        self.obs_dtype: np.dtype[Any] = np.dtype(getattr(self.core, "obs_dtype", np.float32))
        shape = getattr(self.core, "obs_shape", None)
        self.obs_shape: tuple[int, ...] | None = None if shape is None else tuple(int(n) for n in shape)
        #: Whether the core's state can be saved; if not, a resume restarts the episodes.
        self.snapshots = env_capabilities(env_id, env_kwargs).snapshots
        #: One line for the user after a resume that could not restore the env exactly, else None.
        self.resume_note: str | None = None
        self._steps = 0  # steps of each copy so far (derives the restart seed of a non-snapshot core)
        self._obs = self.core.reset()

    def close(self) -> None:
        """Release the environment (worker processes, simulators)."""
        close = getattr(self.core, "close", None)
        if close is not None:
            close()

    def state_dict(self) -> dict[str, np.ndarray]:
        """Env state and pending observations, so that a resumed run continues the same episodes (for a core
        without snapshots: only the steps taken)."""
        if not self.snapshots:
            return {RESTART_KEY: np.asarray([self._steps], dtype=np.int64)}
        state = {f"env.{key}": value for key, value in self.core.state_dict().items()}
        state["obs"] = self._obs.copy()
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Inverse of `state_dict`; a core without snapshots restarts its episodes from a derived seed."""
        if not self.snapshots or RESTART_KEY in state:
            if self.snapshots or RESTART_KEY not in state:
                raise ValueError(
                    "the saved env state and this env differ in whether the env can be snapshotted"
                )
            self._steps = int(np.asarray(state[RESTART_KEY]).reshape(-1)[0])
            self._obs = self.core.reset(seed=self.restart_seed())
            self.resume_note = (
                f"note: resumed with fresh episodes of {getattr(self.core, 'env_id', 'the env')} (seed "
                f"{self.restart_seed()}): exact for the learner (networks, optimisers, RNG), not "
                "bit-identical for the env, whose state cannot be saved"
            )
            return
        self.core.load_state_dict({k[4:]: np.asarray(v) for k, v in state.items() if k.startswith("env.")})
        self._obs = np.asarray(state["obs"], dtype=self.obs_dtype).copy()

    def restart_seed(self) -> int:
        """Seed of the episodes a resume restarts (non-snapshot cores): a function of the core's seed and the
        steps taken, so two resumes of one checkpoint run the same episodes."""
        base = int(getattr(self.core, "seed", 0))
        return int(np.random.SeedSequence([base, self._steps]).generate_state(1)[0])

    def collect(self, act: ActFn, steps_per_env: int, to_env: EnvActionFn | None = None) -> Batch:
        """Step every copy ``steps_per_env`` times with actions from ``act`` (sent as ``to_env(actions)``)."""
        if steps_per_env < 1:
            raise ValueError(f"steps_per_env must be >= 1, got {steps_per_env}")
        shape = (steps_per_env, self.num_envs, self.n_agents)
        obs = np.empty((*shape, self.obs_dim), dtype=self.obs_dtype)
        next_obs = np.empty_like(obs)
        spec = self.action_spec
        actions = np.empty((*shape, *spec.action_shape), dtype=np.float32 if spec.continuous else np.int64)
        logp = np.empty(shape, dtype=np.float32)
        values = np.empty(shape, dtype=np.float32)
        rewards = np.empty(shape, dtype=np.float32)
        terminated = np.empty(shape[:2], dtype=np.bool_)
        over = np.empty(shape[:2], dtype=np.bool_)
        finished_returns: list[np.ndarray] = []
        finished_lengths: list[np.ndarray] = []
        active: np.ndarray | None = None
        agent_terminated: np.ndarray | None = None
        for t in range(steps_per_env):
            obs[t] = self._obs
            actions[t], logp[t], values[t] = act(self._obs)
            result = self.core.step(actions[t] if to_env is None else to_env(actions[t]))
            rewards[t] = result.rewards
            next_obs[t] = result.final_obs
            terminated[t] = result.terminated.all(axis=1)
            over[t] = result.episode_over
            if "active" in result.info:
                if active is None or agent_terminated is None:
                    active, agent_terminated = np.ones(shape, np.bool_), np.zeros(shape, np.bool_)
                active[t] = result.info["active"]
                agent_terminated[t] = result.terminated
            if result.episode_over.any():
                finished_returns.append(result.episode_return[result.episode_over])
                finished_lengths.append(result.episode_length[result.episode_over])
            self._obs = result.obs
        self._steps += steps_per_env
        return Batch(
            obs=obs,
            actions=actions,
            logp=logp,
            values=values,
            rewards=rewards,
            next_obs=next_obs,
            terminated=terminated,
            episode_over=over,
            episode_returns=(
                np.concatenate(finished_returns) if finished_returns else np.zeros((0, self.n_agents))
            ),
            episode_lengths=(
                np.concatenate(finished_lengths) if finished_lengths else np.zeros(0, dtype=np.int64)
            ),
            active=active,
            agent_terminated=agent_terminated,
        )
