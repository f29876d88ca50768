"""In-process collection: one batched numpy core steps all env copies; the policy acts for all at once."""

from __future__ import annotations

from typing import Any

import numpy as np

from matrl.envs import make_vector_env
from matrl.envs.spec import ActionSpec
from matrl.rollout.base import ActFn, Batch, EnvActionFn


class LocalCollector:
    """Collects from ``num_envs`` copies of one environment in this process.

    Episodes run on across ``collect`` calls (nothing is abandoned at a batch boundary, unlike the original
    code, which reset the env every epoch); the grid worlds are deterministic, so the only randomness is in
    the actions, which the ``act`` function draws from its own seeded generator.

    Observations are stored with the core's ``obs_dtype`` (uint8 pixels for Pong, float32 for every core that
    does not declare one), and ``obs_shape`` is the core's image shape (C, H, W) or None for flat vectors.
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
        self._obs = self.core.reset()

    def close(self) -> None:
        """Release the environment (worker processes, simulators)."""
        close = getattr(self.core, "close", None)
        if close is not None:
            close()

    def state_dict(self) -> dict[str, np.ndarray]:
        """Env state and pending observations, so that a resumed run continues the same episodes."""
        state = {f"env.{key}": value for key, value in self.core.state_dict().items()}
        state["obs"] = self._obs.copy()
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Inverse of `state_dict`."""
        self.core.load_state_dict({k[4:]: np.asarray(v) for k, v in state.items() if k.startswith("env.")})
        self._obs = np.asarray(state["obs"], dtype=self.obs_dtype).copy()

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
        for t in range(steps_per_env):
            obs[t] = self._obs
            actions[t], logp[t], values[t] = act(self._obs)
            result = self.core.step(actions[t] if to_env is None else to_env(actions[t]))
            rewards[t] = result.rewards
            next_obs[t] = result.final_obs
            terminated[t] = result.terminated.all(axis=1)
            over[t] = result.episode_over
            if result.episode_over.any():
                finished_returns.append(result.episode_return[result.episode_over])
                finished_lengths.append(result.episode_length[result.episode_over])
            self._obs = result.obs
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
        )
