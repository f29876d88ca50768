"""Any PettingZoo ``ParallelEnv`` behind the batched-core interface, so the rollout layer can train on it.

The adapter steps E independent copies in a Python loop (no speed-up, only the interface) and turns their
dicts into the (E, n_agents, ...) arrays of :class:`matrl.envs.core.StepResult`, in ``possible_agents`` order.

Agents that leave before the episode ends get reward 0 and their last observation repeated, and keep the
flag they left with (``terminated`` or ``truncated``) until the copy's episode ends, so on an episode's last
step the flags tell how each agent's episode ended and the padding steps look like an absorbing state.
``info["active"]`` (E, n) says which agents were still in the copy (and acted) on the step. A copy's episode
is over when no agent is left in ``env.agents`` or every agent has terminated or truncated; it is then reset
(auto-reset is always on) and ``final_obs`` holds the observation before that reset.

Agents may differ (heterogeneous teams, as in MPE's simple_adversary or simple_speaker_listener): each
agent's observation is flattened and zero-padded to the largest size (optionally followed by a one-hot agent
id), discrete agents may have different numbers of actions (`ActionSpec.counts`, the rest masked by the
learner), and Box actions are padded to the largest size (`ActionSpec.box`). Observations of rank 3 or more
are flattened too when they are small grid views (MAgent2's 13 x 13 x 5 local maps); Dict, Tuple, Discrete and
large image observations, and teams that mix discrete and continuous actions, are refused in one line.

An arbitrary env's state cannot be read out, so this core has no snapshots (``snapshots = False``): a resumed
run restarts its episodes (`matrl.rollout.local.LocalCollector.load_state_dict`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, DTypeLike, NDArray
from pettingzoo import ParallelEnv

from matrl.envs.core import BatchedCore, GameStep, check_agent_actions
from matrl.envs.spec import ActionSpec

#: Largest observation of rank 3 or more that is flattened for the MLPs: a local grid view such as MAgent2's
#: (13 x 13 x 5 = 845 values in battle) fits; a camera image (84 x 84 x 3 = 21,168) would need a CNN.
MAX_GRID_OBS_SIZE = 4096


class ParallelEnvVectorCore(BatchedCore):
    """E copies of a PettingZoo ``ParallelEnv`` as a :class:`BatchedCore` (no time limit of its own).

    Every agent needs a ``Box`` observation space of rank 1 or 2, or a small grid view of higher rank (at most
    ``MAX_GRID_OBS_SIZE`` values, as MAgent2's); it is flattened to float32 and zero-padded to the largest
    agent's size, then ``one_hot_agent_id`` appends the agent's index as a one-hot vector. Actions: either
    every agent a ``Discrete(K_i)`` action space starting at 0 or every agent a ``Box`` with finite
    bounds. On the first ``reset`` copy k is reset with ``seed + k``; later resets (auto-resets included) pass
    no seed, so each copy's own RNG runs on. Rewards are cast to ``reward_dtype`` and the returns are sums of
    the cast rewards, as in the numpy cores.
    """

    #: The env's state cannot be saved, so a resume restarts the episodes.
    snapshots = False

    def __init__(
        self,
        env_fns: Sequence[Callable[[], ParallelEnv[Any, Any, Any]]],
        seed: int = 0,
        reward_dtype: DTypeLike = np.float32,
        one_hot_agent_id: bool = False,
    ) -> None:
        if len(env_fns) < 1:
            raise ValueError("env_fns must hold at least one env constructor")
        super().__init__(len(env_fns), max_steps=None, autoreset=True, reward_dtype=reward_dtype)
        self.envs: list[ParallelEnv[Any, Any, Any]] = [fn() for fn in env_fns]
        for env in self.envs:
            if not isinstance(env, ParallelEnv):
                raise ValueError(
                    f"an env constructor returned {type(env).__name__}; expected a pettingzoo ParallelEnv "
                    "(for an AEC env use its module's parallel_env, or pettingzoo.utils.aec_to_parallel)"
                )
        self.seed = int(seed)
        first = self.envs[0]
        self.agent_ids: tuple[Any, ...] = tuple(first.possible_agents)
        if not self.agent_ids:
            raise ValueError("the env has no possible_agents")
        for k, env in enumerate(self.envs[1:], start=1):
            if tuple(env.possible_agents) != self.agent_ids:
                theirs, ours = list(env.possible_agents), list(self.agent_ids)
                raise ValueError(f"env copy {k} has possible_agents {theirs}, copy 0 has {ours}")
        self.n_agents = len(self.agent_ids)
        self._obs_sizes = [self._obs_size(first, agent) for agent in self.agent_ids]
        self.one_hot_agent_id = bool(one_hot_agent_id)
        self._width = max(self._obs_sizes)
        self.obs_dim = self._width + (self.n_agents if self.one_hot_agent_id else 0)
        self.action_spec = self._action_spec(first)
        self._act_spaces = [first.action_space(agent) for agent in self.agent_ids]
        #: Discrete: the largest number of actions; continuous: the padded action size (as MaMuJoCo).
        self.n_actions = self.action_spec.dim if self.action_spec.continuous else self.action_spec.n
        self.env_id = str(first.metadata.get("name", type(first).__name__))
        self.allowed_actions = f"integers 0..{self.n_actions - 1}"
        self._index = {agent: i for i, agent in enumerate(self.agent_ids)}
        e, n = self.num_envs, self.n_agents
        self._last_obs = np.zeros((e, n, self.obs_dim), dtype=np.float32)
        if self.one_hot_agent_id:
            self._last_obs[:, :, -n:] = np.eye(n, dtype=np.float32)
        self._terminated = np.zeros((e, n), dtype=np.bool_)
        self._truncated = np.zeros((e, n), dtype=np.bool_)
        self._allocate_envelope()

    # ------------------------------------------------------------------ BatchedCore hooks
    def check_actions(self, actions: ArrayLike) -> NDArray[Any]:
        """Discrete (E, n) ints within each agent's own count, or continuous (E, n, dim) finite reals on each
        agent's real entries (`check_agent_actions`)."""
        return check_agent_actions(self, actions)

    def _step_copies(self, actions: NDArray[Any]) -> GameStep:
        """One ``env.step`` per copy with the actions of the agents in its ``env.agents``."""
        e, n = self.num_envs, self.n_agents
        rewards = np.zeros((e, n), dtype=self.reward_dtype)
        active = np.zeros((e, n), dtype=np.bool_)
        over = np.zeros(e, dtype=np.bool_)
        for k, env in enumerate(self.envs):
            live = [self._agent_index(agent, k) for agent in env.agents]
            active[k, live] = True
            obs, rew, term, trunc, _ = env.step(
                {self.agent_ids[i]: self._env_action(actions, k, i) for i in live}
            )
            for agent, value in obs.items():
                if agent in self._index:
                    self._last_obs[k, self._index[agent], : self._width] = self._flat_obs(value, agent)
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
        terminated = self._terminated.copy()
        return GameStep(
            rewards,
            terminated,
            over,
            {"active": active},
            truncated=self._truncated.copy(),
            done=terminated | self._truncated,
        )

    def _reset_copies(self, rows: NDArray[np.intp], seed: int | None) -> None:
        for k in rows.tolist():
            obs, _ = self.envs[k].reset(seed=None if seed is None else seed + k)
            self._last_obs[k, :, : self._width] = 0.0  # agents absent at reset (agents that join) see 0s
            for agent, value in obs.items():
                if agent in self._index:
                    self._last_obs[k, self._index[agent], : self._width] = self._flat_obs(value, agent)
            self._terminated[k] = False
            self._truncated[k] = False

    def _observation(self, rows: NDArray[np.intp] | None = None) -> NDArray[np.float32]:
        return self._last_obs.copy() if rows is None else self._last_obs[rows]

    # ------------------------------------------------------------------ no snapshots
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

    def pack_observations(self, observations: Mapping[Any, Any]) -> NDArray[np.float32]:
        """One copy's observation dict (as ``env.reset``/``env.step`` give it) as this core's rows
        (n_agents, obs_dim): flattened, zero-padded, the one-hot id appended; absent agents' rows are zeros
        (a policy trained on this core can then act in a copy stepped outside it, e.g. `matrl render`)."""
        rows = np.zeros((self.n_agents, self.obs_dim), dtype=np.float32)
        if self.one_hot_agent_id:
            rows[:, -self.n_agents :] = np.eye(self.n_agents, dtype=np.float32)
        for agent, value in observations.items():
            rows[self._agent_index(agent, 0), : self._width] = self._flat_obs(value, agent)
        return rows

    def unpack_actions(self, actions: ArrayLike, agents: Sequence[Any]) -> dict[Any, Any]:
        """One copy's action row (n_agents,) or (n_agents, dim) as the dict ``env.step`` takes for
        ``agents``: an int per discrete agent, a Box agent's real entries in its own shape."""
        row = np.asarray(actions)[None]
        return {agent: self._env_action(row, 0, self._agent_index(agent, 0)) for agent in agents}

    def close(self) -> None:
        """Close every copy."""
        for env in self.envs:
            env.close()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _obs_size(env: ParallelEnv[Any, Any, Any], agent: Any) -> int:
        """Elements of an agent's flattened observation; one-line ValueError for a space not allowed."""
        space = env.observation_space(agent)
        allowed = (
            f"allowed: a Box of rank 1 or 2, or of higher rank with at most {MAX_GRID_OBS_SIZE} values "
            "(flattened to float32)"
        )
        if not isinstance(space, spaces.Box):
            raise ValueError(f"agent {agent!r} has observation space {space}; {allowed}")
        size = int(np.prod(space.shape))
        if len(space.shape) > 2 and size > MAX_GRID_OBS_SIZE:
            raise ValueError(
                f"agent {agent!r} has observation space {space}: image observations of {size} values are "
                f"not supported by the PettingZoo adapter (its networks are MLPs); {allowed}"
            )
        return size

    def _action_spec(self, env: ParallelEnv[Any, Any, Any]) -> ActionSpec:
        """Every agent Discrete(K_i) from 0, or every agent a Box with finite bounds; one line naming the
        first agent that breaks this."""
        act = {agent: env.action_space(agent) for agent in self.agent_ids}
        first, first_space = self.agent_ids[0], act[self.agent_ids[0]]
        allowed = "allowed: every agent Discrete(K) starting at 0, or every agent a Box with finite bounds"
        if isinstance(first_space, spaces.Discrete):
            for agent, space in act.items():
                if not isinstance(space, spaces.Discrete) or int(space.start) != 0:
                    raise ValueError(
                        f"agent {agent!r} has action space {space} (agent {first!r}: {first_space}); "
                        f"{allowed}"
                    )
            return ActionSpec.discrete_per_agent([int(space.n) for space in act.values()])
        lows: list[NDArray[np.floating]] = []
        highs: list[NDArray[np.floating]] = []
        for agent, space in act.items():
            if not isinstance(space, spaces.Box):
                raise ValueError(
                    f"agent {agent!r} has action space {space} (agent {first!r}: {first_space}); {allowed}"
                )
            low, high = np.ravel(space.low).astype(np.float64), np.ravel(space.high).astype(np.float64)
            if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low < high)):
                raise ValueError(f"agent {agent!r} has action space {space}; {allowed} (low < high)")
            lows.append(low)
            highs.append(high)
        return ActionSpec.box(lows, highs)

    def _env_action(self, act: NDArray[Any], k: int, i: int) -> Any:
        """Agent i's action in copy k as its space takes it: an int, or its real entries in the Box shape."""
        if not self.action_spec.continuous:
            return int(act[k, i])
        space = self._act_spaces[i]
        size = int(np.prod(space.shape))
        return np.asarray(act[k, i, :size], dtype=space.dtype).reshape(space.shape)

    def _agent_index(self, agent: Any, k: int) -> int:
        try:
            return self._index[agent]
        except KeyError:
            raise ValueError(f"env copy {k} has agent {agent!r}, not in possible_agents") from None

    def _flat_obs(self, value: Any, agent: Any) -> NDArray[np.float32]:
        """The observation flattened and zero-padded to the largest agent's size (one-hot id untouched)."""
        flat = np.asarray(value, dtype=np.float32).reshape(-1)
        size = self._obs_sizes[self._index[agent]]
        if flat.size != size:
            raise ValueError(f"agent {agent!r} observed {flat.size} values, expected {size}")
        padded = np.zeros(self._width, dtype=np.float32)
        padded[:size] = flat
        return padded
