"""Any PettingZoo ``ParallelEnv`` behind the batched-core interface, so the rollout layer can train on it.

The adapter steps E independent copies in a Python loop (no speed-up, only the interface) and turns their
dicts into the (E, n_agents, ...) arrays of :class:`matrl.envs.core.StepResult`, in ``possible_agents`` order.

Agents that leave before the episode ends get reward 0 and their last observation repeated, and keep the
flag they left with (``terminated`` or ``truncated``) until the copy's episode ends, so on an episode's last
step the flags tell how each agent's episode ended and the padding steps look like an absorbing state.
``info["active"]`` (E, n) says which agents were still in the copy (and acted) on the step. A copy's episode
is over when no agent is left in ``env.agents`` or every agent has terminated or truncated; it is then reset
(auto-reset is always on) and ``final_obs`` holds the observation before that reset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, DTypeLike, NDArray
from pettingzoo import ParallelEnv

from matrl.envs.core import StepResult, check_action_batch
from matrl.envs.spec import ActionSpec


class ParallelEnvVectorCore:
    """E copies of a PettingZoo ``ParallelEnv`` with the duck-typed interface of a batched core.

    Every agent must have a ``Discrete(K)`` action space (same K, starting at 0) and a ``Box`` observation
    space (same number of elements; observations are flattened to float32). On the first ``reset`` copy k is
    reset with ``seed + k``; later resets (auto-resets included) pass no seed, so each copy's own RNG runs on.
    Rewards are cast to ``reward_dtype`` and the returns are sums of the cast rewards, as in the numpy cores.
    """

    autoreset = True

    def __init__(
        self,
        env_fns: Sequence[Callable[[], ParallelEnv[Any, Any, Any]]],
        seed: int = 0,
        reward_dtype: DTypeLike = np.float32,
    ) -> None:
        if len(env_fns) < 1:
            raise ValueError("env_fns must hold at least one env constructor")
        self.envs: list[ParallelEnv[Any, Any, Any]] = [fn() for fn in env_fns]
        self.seed = int(seed)
        self.reward_dtype: np.dtype[Any] = np.dtype(reward_dtype)
        if self.reward_dtype.kind != "f":
            raise ValueError(f"reward_dtype must be a float dtype, got {self.reward_dtype}")
        first = self.envs[0]
        self.agent_ids: tuple[Any, ...] = tuple(first.possible_agents)
        if not self.agent_ids:
            raise ValueError("the env has no possible_agents")
        for k, env in enumerate(self.envs[1:], start=1):
            if tuple(env.possible_agents) != self.agent_ids:
                theirs, ours = list(env.possible_agents), list(self.agent_ids)
                raise ValueError(f"env copy {k} has possible_agents {theirs}, copy 0 has {ours}")
        self.n_actions, self.obs_dim = self._check_spaces(first)
        self.action_spec = ActionSpec.discrete(self.n_actions)
        self.num_envs = len(self.envs)
        self.n_agents = len(self.agent_ids)
        self.env_id = str(first.metadata.get("name", type(first).__name__))
        self.allowed_actions = f"integers 0..{self.n_actions - 1}"
        self._index = {agent: i for i, agent in enumerate(self.agent_ids)}
        e, n = self.num_envs, self.n_agents
        self._last_obs = np.zeros((e, n, self.obs_dim), dtype=np.float32)
        self._terminated = np.zeros((e, n), dtype=np.bool_)
        self._truncated = np.zeros((e, n), dtype=np.bool_)
        self._returns = np.zeros((e, n), dtype=np.float64)
        self._steps = np.zeros(e, dtype=np.int64)
        self._seeded = False
        self._started = False

    # ------------------------------------------------------------------ public API
    def reset(self, seed: int | None = None) -> NDArray[np.float32]:
        """Reset every copy and return the observations (E, n, obs_dim).

        Copy k gets ``seed + k``, ``seed`` being this call's, else the constructor's on the first reset only.
        """
        if seed is None and not self._seeded:
            seed = self.seed
        self._seeded = True
        for k in range(self.num_envs):
            self._reset_copy(k, None if seed is None else seed + k)
        self._started = True
        return self._last_obs.copy()

    def step(self, actions: ArrayLike) -> StepResult:
        """Advance every copy by one joint action (E, n); auto-reset copies whose episode ended."""
        if not self._started:
            raise ValueError("call reset() before step()")
        act = check_action_batch(actions, self.agent_ids, self.num_envs, self.n_actions, self.allowed_actions)
        e, n = self.num_envs, self.n_agents
        rewards = np.zeros((e, n), dtype=self.reward_dtype)
        active = np.zeros((e, n), dtype=np.bool_)
        over = np.zeros(e, dtype=np.bool_)
        for k, env in enumerate(self.envs):
            live = [self._agent_index(agent, k) for agent in env.agents]
            active[k, live] = True
            obs, rew, term, trunc, _ = env.step({self.agent_ids[i]: int(act[k, i]) for i in live})
            for agent, value in obs.items():
                if agent in self._index:
                    self._last_obs[k, self._index[agent]] = self._flat_obs(value, agent)
            for agent, value in rew.items():
                if agent in self._index:
                    rewards[k, self._index[agent]] = value
            for agent, flag in term.items():
                if flag and agent in self._index:
                    self._terminated[k, self._index[agent]] = True
            for agent, flag in trunc.items():
                if flag and agent in self._index:
                    self._truncated[k, self._index[agent]] = True
            ended = self._terminated[k] | self._truncated[k]
            over[k] = not env.agents or bool(ended.all())
        self._steps += 1
        self._returns += rewards
        final_obs = self._last_obs.copy()
        terminated = self._terminated.copy()
        truncated = self._truncated.copy() & ~terminated
        result = StepResult(
            obs=final_obs,
            rewards=rewards,
            terminated=terminated,
            truncated=truncated,
            episode_over=over,
            final_obs=final_obs,
            done=terminated | truncated,
            episode_return=self._returns.copy(),
            episode_length=self._steps.copy(),
            info={"active": active},
        )
        if over.any():
            for j in np.flatnonzero(over):
                self._reset_copy(int(j), None)
            result = result._replace(obs=self._last_obs.copy())
        return result

    def state_dict(self) -> NoReturn:
        """Not possible: an arbitrary PettingZoo env's state cannot be read out or written back."""
        raise NotImplementedError(
            f"ParallelEnvVectorCore({self.env_id}) cannot snapshot arbitrary PettingZoo envs; "
            "use a numpy core (make_vector_env) for bit-identical resume"
        )

    def load_state_dict(self, state: Mapping[str, ArrayLike]) -> NoReturn:
        """Not possible, see :meth:`state_dict`."""
        del state
        self.state_dict()

    def close(self) -> None:
        """Close every copy."""
        for env in self.envs:
            env.close()

    # ------------------------------------------------------------------ helpers
    def _check_spaces(self, env: ParallelEnv[Any, Any, Any]) -> tuple[int, int]:
        """(K, obs_dim) shared by all agents; one-line ValueError naming the first agent that differs."""
        n_actions: int | None = None
        obs_dim: int | None = None
        for agent in self.agent_ids:
            act_space = env.action_space(agent)
            if not isinstance(act_space, spaces.Discrete) or int(act_space.start) != 0:
                raise ValueError(f"agent {agent!r} has action space {act_space}; need Discrete(K) from 0")
            if n_actions is not None and int(act_space.n) != n_actions:
                raise ValueError(
                    f"agent {agent!r} has action space {act_space}; every agent needs Discrete({n_actions})"
                )
            n_actions = int(act_space.n)
            obs_space = env.observation_space(agent)
            if not isinstance(obs_space, spaces.Box):
                raise ValueError(f"agent {agent!r} has observation space {obs_space}; need a Box")
            size = int(np.prod(obs_space.shape))
            if obs_dim is not None and size != obs_dim:
                raise ValueError(
                    f"agent {agent!r} has observation space {obs_space}; every agent needs {obs_dim} elements"
                )
            obs_dim = size
        assert n_actions is not None and obs_dim is not None  # agent_ids is not empty
        return n_actions, obs_dim

    def _reset_copy(self, k: int, seed: int | None) -> None:
        obs, _ = self.envs[k].reset(seed=seed)
        self._last_obs[k] = 0.0  # agents absent at reset (none in the usual env) observe zeros
        for agent, value in obs.items():
            if agent in self._index:
                self._last_obs[k, self._index[agent]] = self._flat_obs(value, agent)
        self._terminated[k] = False
        self._truncated[k] = False
        self._returns[k] = 0.0
        self._steps[k] = 0

    def _agent_index(self, agent: Any, k: int) -> int:
        try:
            return self._index[agent]
        except KeyError:
            raise ValueError(f"env copy {k} has agent {agent!r}, not in possible_agents") from None

    def _flat_obs(self, value: Any, agent: Any) -> NDArray[np.float32]:
        flat = np.asarray(value, dtype=np.float32).reshape(-1)
        if flat.size != self.obs_dim:
            raise ValueError(f"agent {agent!r} observed {flat.size} values, expected {self.obs_dim}")
        return flat
