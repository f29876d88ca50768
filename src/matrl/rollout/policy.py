"""The acting policy as a picklable object, so that a collector in another process can rebuild it.

`NetworkPolicy` is an ``ActFn`` (the in-process collector just calls it) that also exposes what it is made
of: the batched actor-critic network (all agents, a leading agent axis) and the torch generator that draws
the actions. A distributed collector ships the network's weights to its workers and reproduces the sampling
there (see `matrl.rollout.ray_collector`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from matrl.learners.actor_critic import ActorCritic


class NetworkPolicy:
    """Samples every agent's action in every env copy with one batched network call.

    ``policy(obs)`` maps observations (E, A, ...) to actions (E, A, ...), their log-probabilities (E, A) and
    the value estimates (E, A), drawing from ``sampler``; ``to_env`` turns stored actions into what the
    environment receives (e.g. clipped into the action bounds).
    """

    def __init__(self, net: ActorCritic, sampler: torch.Generator, scores: bool = True) -> None:
        self.net = net
        self.sampler = sampler
        #: False: only the actions; log-probabilities and values come back NaN (a learner that recomputes both
        #: on the whole batch, as `MATRL.prepare` does, saves the value network's pass at every env step).
        #: The actions are the same either way (the value network draws nothing from ``sampler``). Ray
        #: workers rebuild the policy from its network and score as before.
        self.scores = scores

    def __call__(self, obs: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.float32], NDArray[np.float32]]:
        x = torch.from_numpy(obs).transpose(0, 1)  # (E, A, D) -> (A, E, D)
        if not self.scores:
            unscored = np.full(obs.shape[:2], np.nan, dtype=np.float32)
            return self.net.sample(x, self.sampler).transpose(0, 1).numpy(), unscored, unscored
        actions, logp, values = self.net.act(x, self.sampler)
        return actions.transpose(0, 1).numpy(), logp.T.numpy(), values.T.numpy()

    def to_env(self, actions: NDArray[Any]) -> NDArray[Any]:
        """Stored actions (E, A, ...) -> the actions the environment receives."""
        return self.net.head.env_action(actions)
