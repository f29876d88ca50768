"""Multi-agent MuJoCo (gymnasium-robotics ``mamujoco_v1``) as a batched core and as a PettingZoo env.

The library's ``MultiAgentMujocoEnv.step`` maps an action dict to the global action node by node and rebuilds
every agent's observation in Python (``build_obs``) on every step, which costs about as much as the physics.
:class:`MaMuJoCoCore` keeps one library env per copy (for its factorization, and as the reference), but steps
the underlying single-agent gymnasium env directly: the global action comes from one fancy index into the
(E, A, dim) action batch, and the observations are gathered from the global state (the single env's own
observation, i.e. the library's ``state()``) with index arrays that the library's
``create_observation_mapping`` computes once. For the scenarios in :data:`GATHER_EXACT` that gather equals the
library's local observations bit for bit (tests/envs/test_mamujoco.py); the others take the library's
``_get_obs()`` for local observations.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Mapping
from typing import Any, Literal

import mujoco
import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, DTypeLike, NDArray

from matrl.envs.core import BatchedCore, GameStep, StepResult, check_box_batch
from matrl.envs.parallel import OneCopyParallelEnv
from matrl.envs.spec import ActionSpec

# Importing gymnasium_robotics prints a notice about its Adroit envs' rewards to stderr on every start; it
# has nothing to do with MaMuJoCo, so it is kept off our users' terminals.
with contextlib.redirect_stderr(io.StringIO()):
    from gymnasium_robotics.envs.multiagent_mujoco.mujoco_multi import MultiAgentMujocoEnv
    from gymnasium_robotics.envs.multiagent_mujoco.obsk import get_parts_and_edges

#: Scenarios and their ``agent_conf`` values (None: one agent controls everything), as gymnasium-robotics 1.4
#: defines them. ManySegment* and CoupledHalfCheetah are left out: the former write their model file into the
#: library's package folder (a race between worker processes), the latter fails to build in 1.4.2.
SCENARIOS: dict[str, tuple[str | None, ...]] = {
    "Ant": ("2x4", "2x4d", "4x2", None),
    "HalfCheetah": ("2x3", "6x1", None),
    "Hopper": ("3x1", None),
    "Humanoid": ("9|8", None),
    "HumanoidStandup": ("9|8", None),
    "Pusher": ("3p",),  # the library has no single-agent Pusher graph
    "Reacher": ("2x1", None),
    "Swimmer": ("2x1", None),
    "Walker2d": ("2x3", None),
}
#: Scenarios whose local observations are exactly a gather from the global state (checked against the library
#: over random trajectories for agent_obsk 0..2). Walker2d's local velocities differ from the state's, and
#: Reacher and Pusher have no observation structure, so those use the library's own ``_get_obs()``.
GATHER_EXACT = frozenset({"Ant", "HalfCheetah", "Hopper", "Humanoid", "HumanoidStandup", "Swimmer"})
#: Library kwargs that change the factorization or the observation categories (then the gather is unverified).
_CUSTOM_OBS_KWARGS = ("agent_factorization", "local_categories", "global_categories")
#: The registered (scenario, agent_conf) pairs and their ids; any other pair is "mamujoco".
NAMED_CONFS: dict[tuple[str, str | None], str] = {("Hopper", "3x1"): "hopper_3x1", ("Ant", "4x2"): "ant_4x2"}
#: Bytes of the JSON-encoded bit-generator state of one copy in a snapshot (space padded).
RNG_BYTES = 256
_INTEGRATION = mujoco.mjtState.mjSTATE_INTEGRATION


def canonicalize_node_order(env: MultiAgentMujocoEnv) -> None:
    """Break label ties in the order of each agent's observed joints, then rebuild the observation mapping.

    The library sorts an agent's joints by label only, and Pusher names three joints "r_wrist_roll_joint", so
    their order (and so the layout of the local observations) follows set iteration, i.e. memory addresses,
    and differs between env instances and processes. Sorting by (label, actuator, qpos, qvel ids) keeps the
    library's order wherever labels are unique and makes it the same everywhere.
    """
    if env.agent_obsk is None:
        return
    env.k_dicts = [{k: sorted(nodes, key=_node_key) for k, nodes in level.items()} for level in env.k_dicts]
    env.observation_factorization = env.create_observation_mapping()


def _node_key(node: Any) -> tuple[str, str, str, str]:
    return (str(node.label), str(node.act_ids), str(node.qpos_ids), str(node.qvel_ids))


def _check_scenario(scenario: str, agent_conf: str | None, custom: bool) -> None:
    """One-line ValueError for an unknown scenario or agent_conf (the library raises a bare Exception)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown MaMuJoCo scenario {scenario!r}; allowed: {', '.join(SCENARIOS)}")
    if custom:
        return
    try:
        get_parts_and_edges(scenario, agent_conf)
    except Exception:  # the library signals a bad partitioning with a plain Exception
        allowed = ", ".join(map(repr, SCENARIOS[scenario]))
        raise ValueError(f"unknown agent_conf {agent_conf!r} for {scenario}; allowed: {allowed}") from None


class MaMuJoCoCore(BatchedCore):
    """E copies of one MaMuJoCo scenario stepped with numpy arrays (a :class:`BatchedCore`).

    Every agent gets the team reward. ``observation="global"`` gives every agent the full state (as in the
    MATRL paper); ``"local"`` gives each agent the library's local observation (``agent_obsk`` joints deep),
    zero-padded at the end to ``obs_dim``, the largest agent's size. Actions are (E, A, ``action_spec.dim``)
    reals; each entry is clipped to its agent's [low, high] before it reaches the simulator (a Gaussian policy
    samples outside the box, and both the physics and the control cost must see the bounded action), and
    padding entries of agents with fewer action dimensions are ignored.

    Copy k is reset with ``seed + k`` on the first reset; auto-resets pass no seed, so each copy's own RNG
    runs on. Episodes end when the body falls over (terminated) or after ``max_steps`` steps (truncated).
    """

    _computed_state_keys = ("mj_state", "xpos", "xipos", "rng")

    def __init__(
        self,
        num_envs: int,
        scenario: str = "Hopper",
        agent_conf: str | None = "3x1",
        *,
        observation: Literal["global", "local"] = "global",
        agent_obsk: int = 1,
        max_steps: int = 1000,
        seed: int = 0,
        autoreset: bool = True,
        reward_dtype: DTypeLike = np.float32,
        **gym_kwargs: Any,
    ) -> None:
        super().__init__(num_envs, max_steps=int(max_steps), autoreset=autoreset, reward_dtype=reward_dtype)
        if observation not in ("global", "local"):
            raise ValueError(f"unknown observation {observation!r}; allowed: 'global', 'local'")
        if int(agent_obsk) < 0:
            raise ValueError(f"agent_obsk must be >= 0, got {agent_obsk}")
        custom = any(key in gym_kwargs for key in _CUSTOM_OBS_KWARGS)
        _check_scenario(scenario, agent_conf, custom)
        self.scenario, self.agent_conf, self.observation = scenario, agent_conf, observation
        self.seed = int(seed)
        self.env_id = NAMED_CONFS.get((scenario, agent_conf), "mamujoco")
        self.envs: list[MultiAgentMujocoEnv] = [
            MultiAgentMujocoEnv(
                scenario,
                agent_conf,
                agent_obsk=int(agent_obsk),
                max_episode_steps=int(max_steps),
                **gym_kwargs,
            )
            for _ in range(self.num_envs)
        ]
        for env in self.envs:
            canonicalize_node_order(env)
        # The bare MujocoEnv of every copy: the wrappers only check the API and count steps, which this class
        # does itself (the time limit is the same rule as gymnasium's TimeLimit: steps >= max_steps).
        self._sims: list[Any] = [env.single_agent_env.unwrapped for env in self.envs]
        first = self.envs[0]
        self.agent_ids: tuple[str, ...] = tuple(first.possible_agents)
        self.n_agents = len(self.agent_ids)
        self._init_actions(first)
        self._init_observations(first, observation, custom)
        self._allocate_envelope()
        # Global state of every copy plus one zero column that the padding of local observations points at.
        self._state = np.zeros((self.num_envs, self.state_dim + 1), dtype=np.float64)
        self._has_x_velocity: bool | None = None
        model = self._sims[0].model
        self._mj_state_size = int(mujoco.mj_stateSize(model, _INTEGRATION))
        self._nbody = int(model.nbody)

    def _init_actions(self, first: MultiAgentMujocoEnv) -> None:
        """Action spec from the single env's per-actuator bounds, and the index building the global action."""
        box = first.single_agent_env.action_space
        n_global = int(box.shape[0])
        sizes = [len(part) for part in first.agent_action_partitions]
        dim = max(sizes)
        source = np.full(n_global, -1, dtype=np.intp)
        lows, highs = [], []
        for i, part in enumerate(first.agent_action_partitions):
            ids = [int(np.ravel(node.act_ids)[0]) for node in part]
            for j, node in enumerate(part):
                for gid in np.ravel(node.act_ids):
                    if source[gid] != -1:
                        raise ValueError(f"{self.scenario} {self.agent_conf}: actuator {gid} is in two parts")
                    source[gid] = i * dim + j
            lows.append(np.asarray(box.low, dtype=np.float32)[ids])
            highs.append(np.asarray(box.high, dtype=np.float32)[ids])
        if (source < 0).any():
            missing = np.flatnonzero(source < 0).tolist()
            raise ValueError(f"{self.scenario} {self.agent_conf}: actuators {missing} belong to no agent")
        self.action_spec = ActionSpec.box(lows, highs)
        #: Padded per-agent action size (the collector's ``n_actions``).
        self.n_actions = self.action_spec.dim
        #: Real action entries of each agent.
        self.action_dims: tuple[int, ...] = tuple(sizes)
        self._act_source = source
        self._low = self.action_spec.low.astype(np.float64)
        self._high = self.action_spec.high.astype(np.float64)
        self._mask = self.action_spec.mask

    def _init_observations(self, first: MultiAgentMujocoEnv, observation: str, custom: bool) -> None:
        """Observation sizes and how to compute them: the state, a gather from it, or the library."""
        self.state_dim = int(first.single_agent_env.observation_space.shape[0])
        local_dims = [int(first.observation_spaces[agent].shape[0]) for agent in self.agent_ids]
        factorization = first.observation_factorization
        self._obs_index: NDArray[np.intp] | None = None
        if observation == "global":
            self._obs_mode = "global"
            dims = [self.state_dim] * self.n_agents
        else:
            dims = local_dims
            exact = first.agent_obsk is None or (self.scenario in GATHER_EXACT and not custom)
            self._obs_mode = "gather" if exact and factorization is not None else "library"
        #: Real observation entries of each agent (the rest of ``obs_dim`` is zero padding).
        self.obs_dims: tuple[int, ...] = tuple(dims)
        self.obs_dim = max(dims)
        if self._obs_mode == "gather":
            index = np.full((self.n_agents, self.obs_dim), self.state_dim, dtype=np.intp)
            for i, agent in enumerate(self.agent_ids):
                part = np.asarray(factorization[agent], dtype=np.intp)
                index[i, : len(part)] = part
            self._obs_index = index

    # ------------------------------------------------------------------ BatchedCore hooks
    def check_actions(self, actions: ArrayLike) -> NDArray[np.float64]:
        """The checked, clipped global controls (E, n_actuators) of an action batch (see `global_actions`)."""
        return self.global_actions(actions)

    def _step_copies(self, actions: NDArray[np.float64]) -> GameStep:
        """One simulator step of every copy with its global controls; every agent gets the team reward."""
        e, s = self.num_envs, self.state_dim
        raw_rewards = np.empty(e, dtype=np.float64)
        game_over = np.empty(e, dtype=np.bool_)
        x_velocity = np.empty(e, dtype=np.float64)
        state = self._state
        for k, sim in enumerate(self._sims):
            obs, reward, terminated, _, info = sim.step(actions[k])
            state[k, :s] = obs
            raw_rewards[k] = reward
            game_over[k] = terminated
            if self._has_x_velocity is None:
                self._has_x_velocity = "x_velocity" in info
            if self._has_x_velocity:
                x_velocity[k] = info["x_velocity"]
        rewards = np.repeat(raw_rewards.astype(self.reward_dtype)[:, None], self.n_agents, axis=1)
        return GameStep.team(rewards, game_over, {"x_velocity": x_velocity} if self._has_x_velocity else {})

    def _reset_copies(self, rows: NDArray[np.intp], seed: int | None) -> None:
        for k in rows.tolist():
            obs, _ = self._sims[k].reset(seed=None if seed is None else int(seed) + k)
            self._state[k, : self.state_dim] = obs

    def global_actions(self, actions: ArrayLike) -> NDArray[np.float64]:
        """Check a (E, A, dim) action batch, clip it to the bounds, map it to the (E, n_actuators) controls.

        One-line ValueError for a wrong shape or a non-finite real entry (padding entries are not looked at).
        """
        raw, bad = check_box_batch(actions, self.num_envs, self.n_agents, self.n_actions, self._mask)
        a = raw.astype(np.float64)
        if bad is not None:
            e, i, j = bad
            lo, hi = float(self._low[i, j]), float(self._high[i, j])
            raise ValueError(
                f"invalid action {a[e, i, j]} for env copy {e + self.copy_offset}, {self.agent_ids[i]} "
                f"(entry {j}); allowed: finite reals (clipped to [{lo:g}, {hi:g}])"
            )
        np.clip(a, self._low, self._high, out=a)
        return a.reshape(self.num_envs, -1)[:, self._act_source]

    def _state_layout(self) -> dict[str, NDArray[Any]]:
        """Per copy: MuJoCo's integration state (``mj_getState``), the body positions that the next step reads
        before it integrates (``xpos``/``xipos`` are left from the last substep, not recomputed from ``qpos``;
        Ant's and Humanoid's rewards use them), the env RNG (JSON bytes), the episode counters, and whether
        the copy was ever reset."""
        e = self.num_envs
        return {
            "mj_state": np.zeros((e, self._mj_state_size), dtype=np.float64),
            "xpos": np.zeros((e, self._nbody, 3), dtype=np.float64),
            "xipos": np.zeros((e, self._nbody, 3), dtype=np.float64),
            "rng": np.full((e, RNG_BYTES), ord(" "), dtype=np.uint8),  # JSON padded with spaces
            **self._envelope_state(),
        }

    def _save_game_state(self, state: dict[str, NDArray[Any]]) -> None:
        for k, sim in enumerate(self._sims):
            mujoco.mj_getState(sim.model, sim.data, state["mj_state"][k], _INTEGRATION)
            state["xpos"][k], state["xipos"][k] = sim.data.xpos, sim.data.xipos
            if self._started[k]:
                raw = json.dumps(sim.np_random.bit_generator.state).encode()
                if len(raw) > RNG_BYTES:
                    raise RuntimeError(f"RNG state of env copy {k} needs {len(raw)} > {RNG_BYTES} bytes")
                state["rng"][k, : len(raw)] = np.frombuffer(raw, dtype=np.uint8)

    def _load_game_state(self, values: Mapping[str, NDArray[Any]]) -> None:
        generators = [
            self._decode_rng(values["rng"][k], k) if values["started"][k] else None
            for k in range(self.num_envs)
        ]
        for k, sim in enumerate(self._sims):
            mujoco.mj_setState(sim.model, sim.data, np.ascontiguousarray(values["mj_state"][k]), _INTEGRATION)
            sim.data.xpos[:] = values["xpos"][k]
            sim.data.xipos[:] = values["xipos"][k]
            generator = generators[k]
            if generator is not None:
                sim.np_random = generator

    def close(self) -> None:
        """Close every copy's simulator."""
        for env in self.envs:
            env.close()

    # ------------------------------------------------------------------ helpers
    def _observation(self, rows: NDArray[np.intp] | None = None) -> NDArray[np.float32]:
        """Observations (len(rows), A, obs_dim) of the copies ``rows`` (all by default) as they are now."""
        if rows is None:
            rows = self._rows
        if self._obs_mode == "global":
            own = self._state[rows, None, : self.state_dim].astype(np.float32)
            return np.repeat(own, self.n_agents, axis=1)
        if self._obs_index is not None:
            return self._state[rows[:, None, None], self._obs_index].astype(np.float32)
        out = np.zeros((len(rows), self.n_agents, self.obs_dim), dtype=np.float32)
        for r, k in enumerate(rows):
            local = self.envs[int(k)]._get_obs()
            for i, agent in enumerate(self.agent_ids):
                out[r, i, : self.obs_dims[i]] = local[agent]
        return out

    def _decode_rng(self, raw: NDArray[np.uint8], k: int) -> np.random.Generator:
        try:
            state = json.loads(raw.tobytes().decode().strip())
            bit_generator = getattr(np.random, state["bit_generator"])()
            bit_generator.state = state
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"state key 'rng' of env copy {k} is not a bit-generator state: {err}") from None
        return np.random.Generator(bit_generator)


class MaMuJoCoParallelEnv(OneCopyParallelEnv[MaMuJoCoCore, NDArray[np.float32], NDArray[np.float32]]):
    """PettingZoo parallel API over one copy of :class:`MaMuJoCoCore` (no auto-reset, float64 rewards).

    Observations are each agent's real entries (no padding), actions ``Box`` with the agent's real bounds
    (values outside are clipped, as in the core). When the episode ends every agent leaves ``agents``.
    ``reset(seed)`` seeds the simulator and the action spaces' ``sample``.
    """

    def __init__(
        self,
        scenario: str = "Hopper",
        agent_conf: str | None = "3x1",
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        if render_mode is not None:
            raise ValueError(f"unsupported render_mode {render_mode!r}; allowed: None")
        self.render_mode = render_mode
        self.core = MaMuJoCoCore(1, scenario, agent_conf, autoreset=False, reward_dtype=np.float64, **kwargs)
        core = self.core
        self.metadata: dict[str, Any] = {"name": core.env_id, "render_modes": [], "is_parallelizable": True}
        self.possible_agents: list[str] = list(core.agent_ids)
        self.agents: list[str] = []
        spec = core.action_spec
        self.observation_spaces = {
            agent: spaces.Box(-np.inf, np.inf, shape=(core.obs_dims[i],), dtype=np.float32)
            for i, agent in enumerate(self.possible_agents)
        }
        self.action_spaces = {
            agent: spaces.Box(
                spec.low[i, : core.action_dims[i]], spec.high[i, : core.action_dims[i]], dtype=np.float32
            )
            for i, agent in enumerate(self.possible_agents)
        }

    def state(self) -> NDArray[np.float32]:
        """The global state (the single-agent env's observation)."""
        return self.core._state[0, : self.core.state_dim].astype(np.float32)

    def render(self) -> None:
        """No frames: rendering is not supported."""
        return None

    def close(self) -> None:
        self.core.close()

    def _joint_action(self, actions: dict[str, Any]) -> NDArray[np.float64]:
        if not isinstance(actions, dict) or set(actions) != set(self.agents):
            got = sorted(actions) if isinstance(actions, dict) else type(actions).__name__
            raise ValueError(f"actions must be a dict with exactly the agents {self.agents}, got {got}")
        joint = np.zeros((1, self.core.n_agents, self.core.n_actions), dtype=np.float64)
        for i, agent in enumerate(self.possible_agents):
            value = np.asarray(actions[agent], dtype=np.float64)
            if value.shape != (self.core.action_dims[i],):
                raise ValueError(
                    f"action of {agent} must have shape ({self.core.action_dims[i]},), got {value.shape}"
                )
            joint[0, i, : value.size] = value
        return joint

    def _obs_dict(self, obs: NDArray[Any]) -> dict[str, NDArray[np.float32]]:
        return {agent: obs[0, i, : self.core.obs_dims[i]] for i, agent in enumerate(self.possible_agents)}

    def _step_infos(self, res: StepResult) -> dict[str, dict[str, Any]]:
        info = {key: float(value[0]) for key, value in res.info.items()}
        return {agent: dict(info) for agent in self.agents}
