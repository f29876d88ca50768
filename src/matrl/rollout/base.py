"""The collection contract: what a batch holds and how a learner asks for one.

The learner hands a collector an ``act`` function (observations of every agent in every env copy -> actions,
their log-probabilities and value estimates) and gets back a ``Batch`` laid out (T, E, A, ...). Any backend
(in-process vectorised envs, Ray workers) must return exactly this layout, so `algorithm.py` never changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from matrl.envs.spec import ActionSpec

#: obs (E, A, obs_dim) (float32, or the core's ``obs_dtype``: uint8 pixels for Pong) -> (actions (E, A) int64
#: or (E, A, dim) float32, log-probs (E, A) float32, values (E, A) float32).
ActFn = Callable[[NDArray[Any]], tuple[NDArray[Any], NDArray[np.float32], NDArray[np.float32]]]
#: Stored actions (E, A, ...) -> the actions the environment receives (e.g. clipped into the bounds).
EnvActionFn = Callable[[NDArray[Any]], NDArray[Any]]


@dataclass
class Batch:
    """T steps of E env copies with A agents, plus the episodes that finished while collecting.

    Observations keep the environment's dtype: float32 for the vector envs, uint8 pixel values (0..255) for
    image envs such as Pong, whose networks convert them to float (and divide by 255) one chunk at a time. A
    Pong batch of 4000 steps and 2 agents is 169 MB per observation array as uint8 (paper frames), 677 MB as
    float32.
    """

    obs: NDArray[Any]
    """(T, E, A, obs_dim) observation each action was chosen from (float32, or the core's ``obs_dtype``)."""
    actions: NDArray[Any]
    """(T, E, A) int64 discrete actions or (T, E, A, dim) float32 continuous ones, as the policy drew them."""
    logp: NDArray[np.float32]
    """(T, E, A) log-probability of the action under the behaviour (current) policy; NaN from a policy that
    does not score its actions (``NetworkPolicy(scores=False)``: `MATRL` recomputes it in ``prepare``)."""
    values: NDArray[np.float32]
    """(T, E, A) V(obs) under the behaviour value function; NaN where ``logp`` is."""
    rewards: NDArray[np.float32]
    """(T, E, A) each agent's own reward."""
    next_obs: NDArray[Any]
    """(T, E, A, obs_dim) observation the transition reached (the final one, before any auto-reset); same
    dtype as ``obs``."""
    terminated: NDArray[np.bool_]
    """(T, E) the episode ended by the game's terminal condition: no bootstrap."""
    episode_over: NDArray[np.bool_]
    """(T, E) the episode ended (terminated or truncated): the advantage recursion stops here."""
    episode_returns: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))
    """(episodes, A) returns of the episodes that ended during this batch."""
    episode_lengths: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """(episodes,) their lengths."""
    active: NDArray[np.bool_] | None = None
    """(T, E, A) whether each agent was in its copy and acted, from cores that report ``info["active"]`` (the
    PettingZoo adapter: agents that leave or join); None: every agent acted at every step. The learner gives
    inactive steps no weight anywhere (advantages, losses, meta-game, best response)."""
    agent_terminated: NDArray[np.bool_] | None = None
    """(T, E, A) per-agent termination, given with ``active``: an agent that leaves by termination is not
    bootstrapped at its last step although its copy's episode goes on."""

    @property
    def env_steps(self) -> int:
        """Environment steps in the batch (T * E): each step moves every agent once."""
        return int(self.actions.shape[0] * self.actions.shape[1])


class Collector(Protocol):
    """Anything that turns an ``act`` function into a batch of ``steps_per_env`` steps of every copy."""

    num_envs: int
    n_agents: int
    obs_dim: int
    n_actions: int
    action_spec: ActionSpec

    def collect(self, act: ActFn, steps_per_env: int, to_env: EnvActionFn | None = None) -> Batch:
        """Step every copy ``steps_per_env`` times (the env gets ``to_env(actions)``); episodes run on."""
        ...

    def state_dict(self) -> dict[str, np.ndarray]:
        """Environment state (arrays only) for bit-identical resume."""
        ...

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Inverse of `state_dict`."""
        ...
