"""Generalised advantage estimation over a rollout of E environment copies and A agents."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def gae(
    rewards: NDArray[np.floating],
    values: NDArray[np.floating],
    next_values: NDArray[np.floating],
    terminal: NDArray[np.bool_],
    episode_over: NDArray[np.bool_],
    gamma: float,
    lam: float,
    active: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Advantages and lambda-returns, arrays shaped (T, E, A).

    Args:
        rewards: reward of each agent at each step.
        values: V(o_t) of each agent.
        next_values: V(o_{t+1}), where o_{t+1} is the *final* observation when the episode ended at t
            (so a time-limit truncation bootstraps from where the agent actually was).
        terminal: no bootstrap after step t (the episode ended by termination); broadcastable to (T, E, A).
        episode_over: the episode ended at t (terminated or truncated), which cuts the lambda recursion;
            shape (T, E) or broadcastable to (T, E, A).
        gamma: discount factor.
        lam: GAE lambda.
        active: (T, E, A) whether the agent acted at the step (agents that leave or join); an inactive step
            gets advantage 0 and passes nothing back to the steps before it, so an agent's last active step
            ends its recursion (``terminal`` says whether it bootstraps there). None: always active.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    horizon = rewards.shape[0]
    not_terminal = 1.0 - np.broadcast_to(np.asarray(terminal, dtype=np.float64), rewards.shape)
    over = np.asarray(episode_over, dtype=np.float64)
    if over.ndim == rewards.ndim - 1:
        over = over[..., None]
    continues = 1.0 - np.broadcast_to(over, rewards.shape)
    deltas = (
        rewards + gamma * np.asarray(next_values, np.float64) * not_terminal - np.asarray(values, np.float64)
    )
    if active is not None:
        acted = np.broadcast_to(np.asarray(active, dtype=np.bool_), rewards.shape)
        deltas = np.where(acted, deltas, 0.0)
    advantages = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[1:])
    for t in range(horizon - 1, -1, -1):
        running = deltas[t] + gamma * lam * continues[t] * running
        if active is not None:
            running = np.where(acted[t], running, 0.0)  # advantage 0, and no credit passes back through it
        advantages[t] = running
    return advantages, advantages + np.asarray(values, np.float64)
