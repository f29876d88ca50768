"""A fixed-capacity ring buffer of multi-agent transitions for the off-policy baselines (VDN, QMIX, QTRAN).

This is a *transition* buffer, not an episode buffer. The reference VDN/QMIX/QTRAN implementations in PyMARL
(Samvelyan et al. 2019, "The StarCraft Multi-Agent Challenge") store whole episodes because their agents are
recurrent (GRU) and must replay histories to rebuild hidden states. Our agents are feed-forward MLPs, as in
the MATRL paper (Wen et al. 2021, Table 4: "2x128"), so a Q-value depends only on the current observation and
single transitions (o, u, r, o', terminated) are all a TD update needs.

Storage is preallocated numpy, agent-major (A, capacity, ...), so a sample is already in the learner layout
(A, B, ...) with one fancy-index per field and no transpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import DTypeLike, NDArray

#: Field names of the per-agent arrays, stored (A, capacity, ...).
_AGENT_FIELDS = ("obs", "actions", "rewards", "next_obs")
#: Field names of the shared arrays, stored (capacity, ...).
_SHARED_FIELDS = ("terminated", "state", "next_state")


@dataclass(frozen=True)
class TransitionSample:
    """A sampled minibatch in the learner layout: agent quantities (A, B, ...), shared ones (B, ...)."""

    obs: torch.Tensor
    """(A, B, obs_dim) float32."""
    actions: torch.Tensor
    """(A, B, *action_shape), int64 for discrete actions."""
    rewards: torch.Tensor
    """(A, B) float32, each agent's own reward (a cooperative learner reduces them to a team reward)."""
    next_obs: torch.Tensor
    """(A, B, obs_dim) float32."""
    terminated: torch.Tensor
    """(B,) bool: the game's terminal condition, i.e. no bootstrap (truncation is not termination)."""
    state: torch.Tensor | None
    """(B, state_dim) float32 global state for a mixer, or None when the buffer keeps no state."""
    next_state: torch.Tensor | None
    """(B, state_dim) float32, or None."""


class TransitionReplay:
    """Ring buffer of the newest ``capacity`` transitions; uniform sampling with replacement.

    ``add_batch`` takes the E transitions of one collector step in the (E, A, ...) layout of
    `matrl.rollout.base.Batch` (one time slice ``batch.obs[t]`` etc.). When more than ``capacity`` arrive at
    once only the newest ``capacity`` are kept, exactly as if they had been added one by one.
    """

    def __init__(
        self,
        capacity: int,
        n_agents: int,
        obs_dim: int,
        state_dim: int | None = None,
        action_shape: tuple[int, ...] = (),
        action_dtype: DTypeLike = np.int64,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if n_agents < 1 or obs_dim < 1:
            raise ValueError(f"n_agents and obs_dim must be >= 1, got {n_agents} and {obs_dim}")
        if state_dim is not None and state_dim < 1:
            raise ValueError(f"state_dim must be >= 1 or None, got {state_dim}")
        self.capacity = capacity
        self.n_agents = n_agents
        self.obs_dim = obs_dim
        self.state_dim = state_dim
        self.action_shape = tuple(action_shape)
        self._arrays: dict[str, NDArray[Any]] = {
            "obs": np.zeros((n_agents, capacity, obs_dim), dtype=np.float32),
            "actions": np.zeros((n_agents, capacity, *self.action_shape), dtype=action_dtype),
            "rewards": np.zeros((n_agents, capacity), dtype=np.float32),
            "next_obs": np.zeros((n_agents, capacity, obs_dim), dtype=np.float32),
            "terminated": np.zeros(capacity, dtype=np.bool_),
        }
        if state_dim is not None:
            self._arrays["state"] = np.zeros((capacity, state_dim), dtype=np.float32)
            self._arrays["next_state"] = np.zeros((capacity, state_dim), dtype=np.float32)
        self._next = 0  # slot the next transition goes to
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def _expected_shapes(self, count: int) -> dict[str, tuple[int, ...]]:
        """Input shapes in the collector layout (E, A, ...) for E = ``count``."""
        a = self.n_agents
        shapes = {
            "obs": (count, a, self.obs_dim),
            "actions": (count, a, *self.action_shape),
            "rewards": (count, a),
            "next_obs": (count, a, self.obs_dim),
            "terminated": (count,),
        }
        if self.state_dim is not None:
            shapes["state"] = (count, self.state_dim)
            shapes["next_state"] = (count, self.state_dim)
        return shapes

    def add_batch(
        self,
        obs: NDArray[Any],
        actions: NDArray[Any],
        rewards: NDArray[Any],
        next_obs: NDArray[Any],
        terminated: NDArray[Any],
        state: NDArray[Any] | None = None,
        next_state: NDArray[Any] | None = None,
    ) -> None:
        """Append E transitions given as obs (E, A, obs_dim), actions (E, A, ...), rewards (E, A),
        next_obs (E, A, obs_dim), terminated (E,) and, iff the buffer has a ``state_dim``, state and
        next_state (E, state_dim). Overwrites the oldest transitions once full."""
        if (state is None) != (self.state_dim is None) or (next_state is None) != (self.state_dim is None):
            raise ValueError(
                f"state and next_state must be given iff the buffer has a state_dim (it has {self.state_dim})"
            )
        inputs: dict[str, NDArray[Any]] = {
            "obs": np.asarray(obs),
            "actions": np.asarray(actions),
            "rewards": np.asarray(rewards),
            "next_obs": np.asarray(next_obs),
            "terminated": np.asarray(terminated),
        }
        if state is not None and next_state is not None:
            inputs["state"] = np.asarray(state)
            inputs["next_state"] = np.asarray(next_state)
        if inputs["terminated"].ndim != 1:
            raise ValueError(f"terminated has shape {inputs['terminated'].shape}, expected (E,)")
        count = inputs["terminated"].shape[0]
        for name, shape in self._expected_shapes(count).items():
            if inputs[name].shape != shape:
                raise ValueError(f"{name} has shape {inputs[name].shape}, expected {shape}")
        if count == 0:
            return
        if count > self.capacity:
            # Only the newest `capacity` survive; skip the slots the dropped ones would have passed through,
            # so the layout (and hence seeded sampling) matches adding them one at a time.
            dropped = count - self.capacity
            inputs = {name: value[dropped:] for name, value in inputs.items()}
            self._next = (self._next + dropped) % self.capacity
            count = self.capacity
        slots = (self._next + np.arange(count)) % self.capacity
        for name, value in inputs.items():
            if name in _AGENT_FIELDS:
                self._arrays[name][:, slots] = np.swapaxes(value, 0, 1)
            else:
                self._arrays[name][slots] = value
        self._next = int((self._next + count) % self.capacity)
        self._size = min(self._size + count, self.capacity)

    def sample(
        self, batch_size: int, rng: np.random.Generator, device: torch.device | str | None = None
    ) -> TransitionSample:
        """``batch_size`` transitions drawn uniformly with replacement (as DQN does) using ``rng`` only, so a
        seeded generator gives a reproducible minibatch."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if batch_size > self._size:
            raise ValueError(f"cannot sample {batch_size} transitions, only {self._size} stored")
        # Slots [0, size) are exactly the stored transitions, full or not, so no ring arithmetic is needed.
        idx = rng.integers(0, self._size, size=batch_size)

        def take(name: str) -> torch.Tensor:
            array = self._arrays[name]
            picked = array[:, idx] if name in _AGENT_FIELDS else array[idx]
            return torch.from_numpy(picked).to(device)

        has_state = self.state_dim is not None
        return TransitionSample(
            obs=take("obs"),
            actions=take("actions"),
            rewards=take("rewards"),
            next_obs=take("next_obs"),
            terminated=take("terminated"),
            state=take("state") if has_state else None,
            next_state=take("next_state") if has_state else None,
        )

    def state_dict(self) -> dict[str, NDArray[Any]]:
        """Stored transitions and cursor (arrays only), for bit-identical resume.

        Only the filled prefix is saved: slots [0, len) hold every stored transition, and the ones beyond are
        still the zeros they were allocated with.
        """
        out = {
            name: array[:, : self._size].copy()
            for name, array in self._arrays.items()
            if name in _AGENT_FIELDS
        }
        out.update(
            {name: self._arrays[name][: self._size].copy() for name in _SHARED_FIELDS if name in self._arrays}
        )
        out["cursor"] = np.array([self._next, self._size], dtype=np.int64)
        return out

    def load_state_dict(self, state: dict[str, NDArray[Any]]) -> None:
        """Inverse of `state_dict`; the buffer must have been built with the same shapes and capacity."""
        expected = set(self._arrays) | {"cursor"}
        if set(state) != expected:
            raise ValueError(f"state dict has keys {sorted(state)}, expected {sorted(expected)}")
        next_slot, size = (int(v) for v in np.asarray(state["cursor"]))
        if not (0 <= size <= self.capacity and 0 <= next_slot < self.capacity):
            raise ValueError(f"cursor (next={next_slot}, size={size}) does not fit capacity {self.capacity}")
        if size < self.capacity and next_slot != size:
            raise ValueError(
                f"cursor (next={next_slot}, size={size}) is inconsistent: not full needs next == size"
            )
        for name, array in self._arrays.items():
            value = np.asarray(state[name])
            shape = (
                (array.shape[0], size, *array.shape[2:])
                if name in _AGENT_FIELDS
                else (size, *array.shape[1:])
            )
            if value.shape != shape or value.dtype != array.dtype:
                raise ValueError(
                    f"{name} has shape {value.shape}, dtype {value.dtype}; expected {shape}, {array.dtype}"
                )
        for name, array in self._arrays.items():
            array.fill(0)
            if name in _AGENT_FIELDS:
                array[:, :size] = state[name]
            else:
                array[:size] = state[name]
        self._next, self._size = next_slot, size
