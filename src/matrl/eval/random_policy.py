"""The uniformly random policy's returns: the yardstick a learning curve is read against.

Every agent picks uniformly among its own discrete actions (``ActionSpec.counts``) or uniformly inside its
action box, whatever it observes. Episodes are collected from ``num_envs`` copies exactly as training collects
them (`LocalCollector`, auto-reset, agents that leave masked by the env), seeded from ``seed`` for the env
copies (seeded envs) and the actions, so the same call gives the same numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from matrl.envs.registry import env_capabilities
from matrl.envs.spec import ActionSpec
from matrl.rollout.local import LocalCollector

#: Steps per copy collected at a time while counting finished episodes.
_CHUNK = 64


def random_policy_returns(
    env_id: str,
    episodes: int,
    *,
    env_kwargs: dict[str, Any] | None = None,
    seed: int = 0,
    num_envs: int = 16,
) -> NDArray[np.float64]:
    """(episodes, agents) undiscounted returns of the first ``episodes`` episodes the random policy finishes
    (in the order they end, as `LocalCollector` lists them)."""
    if type(episodes) is not int or episodes < 1:
        raise ValueError(f"episodes={episodes!r} is not allowed; expected an integer >= 1")
    kwargs = dict(env_kwargs or {})
    if env_capabilities(env_id, kwargs).seeding:
        kwargs.setdefault("seed", seed)
    collector = LocalCollector(env_id, num_envs, **kwargs)
    rng = np.random.default_rng(seed)
    everyone = tuple(range(collector.n_agents))

    def act(obs: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.float32], NDArray[np.float32]]:
        copies = obs.shape[0]
        zeros = np.zeros((copies, collector.n_agents), dtype=np.float32)
        return uniform_actions(collector.action_spec, copies, everyone, rng), zeros, zeros

    found: list[NDArray[np.float64]] = []
    total = 0
    try:
        while total < episodes:
            batch = collector.collect(act, _CHUNK)
            found.append(np.asarray(batch.episode_returns, dtype=np.float64))
            total += len(batch.episode_returns)
    finally:
        collector.close()
    return np.concatenate(found)[:episodes]


def uniform_actions(
    spec: ActionSpec, copies: int, agents: tuple[int, ...], rng: np.random.Generator
) -> NDArray[Any]:
    """Uniformly random env actions of ``agents`` in ``copies`` env copies, (copies, len(agents)[, dim]):
    each agent among its own discrete actions (``ActionSpec.counts``) or inside its action box."""
    index = list(agents)
    if spec.continuous:
        low, high = spec.low[index], spec.high[index]
        return rng.uniform(low, high, size=(copies, *low.shape)).astype(np.float32)
    counts = np.asarray(spec.counts)[index] if spec.counts else np.full(len(index), spec.n)
    return (rng.random((copies, len(index))) * counts).astype(np.int64)
