"""VMAS scenarios (``--env vmas:SCENARIO``) as a batched core, every copy stepped in one torch batch.

`VMAS <https://github.com/proroklab/VectorizedMultiAgentSimulator>`_ simulates ``num_envs`` copies of a
scenario as torch tensors with a leading batch axis, so one ``Environment.step`` advances all of them; this
core only converts the joint action batch into VMAS's per-agent tensors and the per-agent observations and
rewards back into the (E, n_agents, ...) numpy arrays of :class:`matrl.envs.core.StepResult` (no per-copy
Python).

- **Observations** of agents of different sizes are zero-padded to the largest (as the PettingZoo adapter
  does); dict observations are refused in one line.
- **Actions**: ``continuous_actions=False`` (the default here, unlike VMAS's own) gives each agent VMAS's flat
  ``Discrete`` space (agents may have different counts, `ActionSpec.counts`); ``True`` gives each agent its
  ``Box`` (padded to the largest agent, `ActionSpec.box`), clamped into its bounds by VMAS.
- **Time limit**: the envelope's ``max_steps`` (truncation); VMAS itself is built without one, so a copy
  terminates only by the scenario's own ``done``. The default is 25 for the MPE ports (mpe2's ``max_cycles``)
  and 100 for the other scenarios (BenchMARL's VMAS tasks).
- **Auto-reset**: when every copy ended (the usual case with a fixed horizon) one vectorised ``reset``;
  otherwise VMAS's ``reset_at`` for each ended copy only (VMAS resets one index at a time), then one
  observation of the whole batch.
- **Seeding**: VMAS seeds a batch, not a copy: ``reset(seed)`` seeds the whole batch with ``seed`` (copy k
  does not get ``seed + k``). VMAS keeps one random state for all its environments in a process; this core
  swaps its own in and out around every call, so two cores in one process do not perturb each other.
- **No snapshots**: a VMAS world's state is spread over scenario-specific tensors and Python attributes
  that cannot be read out generically, so ``snapshots = False`` and a resumed run restarts its episodes from
  a derived seed (`matrl.rollout.local.LocalCollector.load_state_dict`), as for PettingZoo ids.

Other kwargs go to the scenario (``n_agents``, ``obs_agents``, ...); a kwarg the scenario does not use is
one line naming it and the ones its ``make_world`` reads.
"""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from matrl.envs.core import BatchedCore, GameStep, check_agent_actions
from matrl.envs.spec import ActionSpec

if TYPE_CHECKING:  # torch is imported when a core is built, so that importing the registry stays light
    import torch

#: Prefix of the ids that name a VMAS scenario: ``vmas:SCENARIO``.
VMAS_PREFIX = "vmas:"
#: The extra that installs VMAS.
VMAS_EXTRA = "matrl[vmas]"
#: Default time limit of the MPE ports (mpe2's max_cycles) and of the other scenarios (BenchMARL's).
MPE_MAX_STEPS = 25
OTHER_MAX_STEPS = 100
#: The kwargs of this core (the rest go to the scenario).
OWN_KWARGS: tuple[str, ...] = ("continuous_actions", "max_steps", "seed", "device")
#: ``vmas.make_env`` arguments this core sets itself.
MAKE_ENV_KWARGS: tuple[str, ...] = (
    "wrapper",
    "dict_spaces",
    "multidiscrete_actions",
    "clamp_actions",
    "grad_enabled",
    "terminated_truncated",
    "wrapper_kwargs",
)
_KWARG_READ = re.compile(r"kwargs\.(?:pop|get)\(\s*[\"'](\w+)[\"']")


def import_vmas() -> Any:
    """The ``vmas`` module, or a one-line ValueError saying which extra installs it."""
    try:
        return importlib.import_module("vmas")
    except ImportError as err:
        raise ValueError(
            f"VMAS envs need the vmas package ({err}); install {VMAS_EXTRA} (pip install 'matrl[vmas]')"
        ) from None


def vmas_scenarios() -> tuple[str, ...]:
    """Every scenario name VMAS knows (its own, the MPE ports, the debug ones), sorted."""
    vmas = import_vmas()
    return tuple(sorted({*vmas.scenarios, *vmas.mpe_scenarios, *vmas.debug_scenarios}))


def scenario_name(env_id: str) -> str:
    """SCENARIO of ``vmas:SCENARIO``; one line if it is not a VMAS scenario (listing those that exist)."""
    name = env_id[len(VMAS_PREFIX) :] if env_id.startswith(VMAS_PREFIX) else env_id
    known = vmas_scenarios()
    if name not in known:
        raise ValueError(f"unknown VMAS scenario {name!r} in {env_id!r}; VMAS scenarios: {', '.join(known)}")
    return name


def scenario_kwargs(scenario: str) -> tuple[str, ...]:
    """The kwargs a scenario's ``make_world`` reads (``kwargs.pop``/``kwargs.get`` in its source)."""
    import_vmas()
    module = importlib.import_module("vmas.scenarios").load(f"{scenario}.py")
    try:
        source = inspect.getsource(module.Scenario.make_world)
    except (OSError, TypeError):
        return ()
    return tuple(dict.fromkeys(_KWARG_READ.findall(source)))


def default_max_steps(scenario: str) -> int:
    """25 for VMAS's MPE ports (mpe2's episode length), 100 for the rest (BenchMARL's VMAS tasks)."""
    return MPE_MAX_STEPS if scenario in import_vmas().mpe_scenarios else OTHER_MAX_STEPS


class VmasCore(BatchedCore):
    """``num_envs`` copies of a VMAS scenario as one torch batch, seen as a :class:`BatchedCore`."""

    #: A VMAS world's state cannot be read out generically, so a resume restarts the episodes.
    snapshots = False

    def __init__(
        self,
        num_envs: int,
        scenario: str,
        *,
        continuous_actions: bool = False,
        max_steps: int | None = None,
        seed: int = 0,
        device: str = "cpu",
        autoreset: bool = True,
        reward_dtype: DTypeLike = np.float32,
        **kwargs: Any,
    ) -> None:
        name = scenario_name(scenario)
        if max_steps is None:
            max_steps = default_max_steps(name)
        super().__init__(num_envs, max_steps=max_steps, autoreset=autoreset, reward_dtype=reward_dtype)
        vmas = import_vmas()
        import torch
        from vmas.simulator.environment import Environment

        self.env_id = f"{VMAS_PREFIX}{name}"
        self.scenario = name
        self.seed = int(seed)
        self.device = torch.device(device)
        self.continuous_actions = bool(continuous_actions)
        self._shared_rng: list[Any] = Environment.vmas_random_state
        outside = list(self._shared_rng)
        taken = sorted(set(kwargs) & set(MAKE_ENV_KWARGS))
        if taken:
            raise ValueError(
                f"env_kwargs {taken} are not allowed for {self.env_id}: matrl sets them itself; scenario "
                f"kwargs of {name}: {', '.join(scenario_kwargs(name)) or 'none'}; matrl's own: "
                f"{', '.join(OWN_KWARGS)}"
            )
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self._env = vmas.make_env(
                    name,
                    num_envs=self.num_envs,
                    device=self.device,
                    continuous_actions=self.continuous_actions,
                    seed=self.seed,
                    max_steps=None,
                    clamp_actions=True,
                    **kwargs,
                )
            self._rng = list(self._shared_rng)
        finally:
            self._shared_rng[:] = outside
        if any("passed but not used" in str(w.message) for w in caught):
            reads = scenario_kwargs(name)
            unknown = sorted(set(kwargs) - set(reads)) or sorted(kwargs)
            raise ValueError(
                f"unknown env_kwargs {unknown} for {self.env_id} (the scenario does not use them); {name} "
                f"reads: {', '.join(reads) or 'none'}; matrl's own: {', '.join(OWN_KWARGS)}"
            )
        self.agent_ids: tuple[str, ...] = tuple(agent.name for agent in self._env.agents)
        self.n_agents = len(self.agent_ids)
        obs = self._call(self._env.get_from_scenario, True, False, False, False)[0]
        bad = [a for a, o in zip(self.agent_ids, obs, strict=True) if not isinstance(o, torch.Tensor)]
        if bad:
            raise ValueError(
                f"{self.env_id}: agent {bad[0]!r} observes a {type(obs[0]).__name__}; allowed: tensors (dict "
                "observations are not supported)"
            )
        self._obs_sizes = [int(np.prod(o.shape[1:])) for o in obs]
        self.obs_dim = max(self._obs_sizes)
        self._uniform_obs = min(self._obs_sizes) == self.obs_dim
        spaces_ = [self._env.get_agent_action_space(agent) for agent in self._env.agents]
        if self.continuous_actions:
            self.action_spec = ActionSpec.box(
                [np.ravel(s.low) for s in spaces_], [np.ravel(s.high) for s in spaces_]
            )
            self._act_sizes = [int(np.prod(s.shape)) for s in spaces_]
            self.n_actions = self.action_spec.dim
            self.allowed_actions = "finite reals (clamped into each agent's bounds)"
        else:
            self.action_spec = ActionSpec.discrete_per_agent([int(s.n) for s in spaces_])
            self.n_actions = self.action_spec.n
            self.allowed_actions = f"integers 0..{self.n_actions - 1}"
        self._last_obs = self._pack(obs)
        self._allocate_envelope()

    # ------------------------------------------------------------------ BatchedCore hooks
    def check_actions(self, actions: ArrayLike) -> NDArray[Any]:
        """Discrete (E, n) ints within each agent's own count, or continuous (E, n, dim) finite reals on each
        agent's real entries (`check_agent_actions`)."""
        return check_agent_actions(self, actions)

    def _step_copies(self, actions: NDArray[Any]) -> GameStep:
        """One VMAS step of the whole batch."""
        import torch

        if self.continuous_actions:
            joint = torch.as_tensor(np.asarray(actions, dtype=np.float32), device=self.device)
            per_agent = [joint[:, i, :size] for i, size in enumerate(self._act_sizes)]
        else:
            joint = torch.as_tensor(actions, device=self.device)
            per_agent = [joint[:, i : i + 1] for i in range(self.n_agents)]
        obs, rewards, dones, _ = self._call(self._env.step, per_agent)
        self._last_obs = self._pack(obs)
        over = dones.cpu().numpy().astype(np.bool_, copy=True)
        rew = torch.stack(rewards, dim=1).cpu().numpy()
        return GameStep.team(rew, over, {})

    def _reset_copies(self, rows: NDArray[np.intp], seed: int | None) -> None:
        if seed is not None or len(rows) == self.num_envs:
            self._call(self._env.reset, seed, False)
            return
        for k in rows.tolist():
            self._call(self._env.reset_at, k, False)

    def _reset_observation(self, rows: NDArray[np.intp]) -> NDArray[np.float32]:
        obs = self._call(self._env.get_from_scenario, True, False, False, False)[0]
        self._last_obs = self._pack(obs)
        return self._last_obs[rows]

    def _observation(self, rows: NDArray[np.intp] | None = None) -> NDArray[np.float32]:
        return self._last_obs.copy() if rows is None else self._last_obs[rows]

    # ------------------------------------------------------------------ no snapshots
    def state_dict(self) -> NoReturn:
        """Not possible: a VMAS world's state is not exposed as arrays."""
        raise NotImplementedError(
            f"VmasCore({self.env_id}) cannot snapshot a VMAS world; a resume restarts its episodes"
        )

    def load_state_dict(self, state: Mapping[str, ArrayLike]) -> NoReturn:
        """Not possible, see :meth:`state_dict`."""
        del state
        self.state_dict()

    # ------------------------------------------------------------------ helpers
    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` with this core's random state in VMAS's process-wide one, put back afterwards."""
        outside = list(self._shared_rng)
        self._shared_rng[:] = self._rng
        try:
            return fn(*args)
        finally:
            self._rng = list(self._shared_rng)
            self._shared_rng[:] = outside

    def _pack(self, obs: list[torch.Tensor]) -> NDArray[np.float32]:
        """Per-agent (E, d_i) tensors as one (E, n, obs_dim) float32 array, zero-padded."""
        import torch

        if self._uniform_obs:
            joint = torch.stack([o.reshape(self.num_envs, -1) for o in obs], dim=1)
        else:
            joint = torch.zeros(self.num_envs, self.n_agents, self.obs_dim, device=self.device)
            for i, o in enumerate(obs):
                joint[:, i, : self._obs_sizes[i]] = o.reshape(self.num_envs, -1)
        return joint.to(dtype=torch.float32).cpu().numpy()
