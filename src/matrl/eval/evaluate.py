"""Returns of saved policies: load a model checkpoint, play N episodes, report per-agent and total returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from matrl.algorithm import build_actor_critic
from matrl.checkpoint import load_model
from matrl.config import TrainConfig
from matrl.envs import make_vector_env
from matrl.learners.actor_critic import ActorCritic


@dataclass(frozen=True)
class Evaluation:
    """Episode returns (episodes, agents) of one checkpoint."""

    checkpoint: Path
    env: str
    iteration: int
    env_steps: int
    returns: np.ndarray

    @property
    def total_returns(self) -> np.ndarray:
        """Team return of each episode (sum over agents)."""
        return self.returns.sum(axis=1)

    def summary(self) -> str:
        """One readable paragraph."""
        totals = self.total_returns
        per_agent = ", ".join(f"agent_{i} {m:.2f}" for i, m in enumerate(self.returns.mean(0)))
        return (
            f"{self.checkpoint} ({self.env}, iteration {self.iteration}, {self.env_steps} env steps): "
            f"{len(totals)} episodes, total return {totals.mean():.2f} +- {totals.std():.2f} "
            f"(min {totals.min():.2f}, max {totals.max():.2f}); {per_agent}"
        )


def load_policy(path: Path) -> tuple[ActorCritic, TrainConfig, int, int]:
    """The networks of a model checkpoint, rebuilt from the config stored beside the weights."""
    tensors, config_dict, iteration, env_steps = load_model(path)
    config = TrainConfig.from_dict(config_dict)
    probe = make_vector_env(config.env, 1, **config.env_kwargs)
    net = build_actor_critic(config, probe.n_agents, probe.obs_dim, probe.action_spec)
    if hasattr(probe, "close"):
        probe.close()
    try:
        net.load_state_dict(tensors)
    except RuntimeError as err:
        raise ValueError(f"checkpoint {path} does not match its own config: {err}") from None
    return net, config, iteration, env_steps


@torch.no_grad()
def evaluate(path: Path, episodes: int = 100, seed: int = 0, greedy: bool = False) -> Evaluation:
    """Play ``episodes`` episodes (one per env copy, in parallel) with sampled (or greedy) actions."""
    if episodes < 1:
        raise ValueError(f"episodes={episodes} is not allowed; expected >= 1")
    net, config, iteration, env_steps = load_policy(path)
    env = make_vector_env(config.env, episodes, **config.env_kwargs)
    generator = torch.Generator().manual_seed(seed)
    obs = env.reset()
    returns = np.zeros((episodes, env.n_agents))
    finished = np.zeros(episodes, dtype=bool)
    while not finished.all():
        x = torch.from_numpy(obs).transpose(0, 1)
        params = net.distribution_params(x)
        actions = net.head.mode(params) if greedy else net.head.sample(params, generator)
        result = env.step(net.head.env_action(actions.transpose(0, 1).numpy()))
        newly = result.episode_over & ~finished
        returns[newly] = result.episode_return[newly]
        finished |= result.episode_over
        obs = result.obs
    return Evaluation(Path(path), config.env, iteration, env_steps, returns)
