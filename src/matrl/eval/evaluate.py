"""Returns of saved policies: load a model checkpoint, play N episodes, report per-agent and total returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from matrl.algorithm import build_actor_critic
from matrl.algos import PolicyKind, algo_spec
from matrl.checkpoint import load_model
from matrl.config import TrainConfig
from matrl.envs import make_vector_env
from matrl.envs.registry import is_third_party, third_party_core
from matrl.envs.spec import ActionSpec
from matrl.eval.random_policy import uniform_actions
from matrl.learners.actor_critic import ActorCritic


@dataclass(frozen=True)
class Evaluation:
    """Episode returns (episodes, agents) of one checkpoint."""

    checkpoint: Path
    env: str
    iteration: int
    env_steps: int
    returns: np.ndarray
    random_agents: tuple[int, ...] = ()
    """Agents that played uniformly at random instead of their policy (a team against a random opponent)."""

    @property
    def total_returns(self) -> np.ndarray:
        """Team return of each episode (sum over agents)."""
        return self.returns.sum(axis=1)

    def summary(self) -> str:
        """One readable paragraph."""
        totals = self.total_returns
        per_agent = ", ".join(
            f"agent_{i}{' (random)' if i in self.random_agents else ''} {m:.2f}"
            for i, m in enumerate(self.returns.mean(0))
        )
        return (
            f"{self.checkpoint} ({self.env}, iteration {self.iteration}, {self.env_steps} env steps): "
            f"{len(totals)} episodes, total return {totals.mean():.2f} +- {totals.std():.2f} "
            f"(min {totals.min():.2f}, max {totals.max():.2f}); {per_agent}"
        )


class Policy(Protocol):
    """What evaluation needs of a checkpoint: env actions for observations (E, A, obs_dim)."""

    def env_actions(self, obs: np.ndarray, greedy: bool, generator: torch.Generator) -> np.ndarray: ...


class _ActorCriticPolicy:
    """MATRL and its ablations: sample from (or take the mode of) each agent's policy."""

    def __init__(self, net: ActorCritic) -> None:
        self.net = net

    def env_actions(self, obs: np.ndarray, greedy: bool, generator: torch.Generator) -> np.ndarray:
        params = self.net.distribution_params(torch.from_numpy(obs).transpose(0, 1))
        actions = self.net.head.mode(params) if greedy else self.net.head.sample(params, generator)
        return np.asarray(self.net.head.env_action(actions.transpose(0, 1).numpy()))


class _GreedyQPolicy:
    """VDN, QMIX, QTRAN: each agent takes argmax_k Q_i(o_i, k) (their test-time policy, with or without
    ``greedy``: exploration noise is a training device)."""

    def __init__(self, agent_q: torch.nn.Module) -> None:
        self.agent_q = agent_q

    def env_actions(self, obs: np.ndarray, greedy: bool, generator: torch.Generator) -> np.ndarray:
        return np.asarray(self.agent_q(torch.from_numpy(obs).transpose(0, 1)).argmax(-1).T.numpy())


class _DeterministicActorPolicy:
    """MADDPG: each agent's deterministic actor (exploration noise is a training device)."""

    def __init__(self, actor: torch.nn.Module) -> None:
        self.actor = actor

    def env_actions(self, obs: np.ndarray, greedy: bool, generator: torch.Generator) -> np.ndarray:
        return np.asarray(self.actor(torch.from_numpy(obs).transpose(0, 1)).transpose(0, 1).numpy())


def _actor_critic(
    config: TrainConfig, n_agents: int, obs_dim: int, spec: ActionSpec, obs_shape: tuple[int, ...] | None
) -> tuple[torch.nn.Module, Policy, str]:
    net = build_actor_critic(config, n_agents, obs_dim, spec, obs_shape=obs_shape)
    return net, _ActorCriticPolicy(net), ""


def _greedy_q(
    config: TrainConfig, n_agents: int, obs_dim: int, spec: ActionSpec, obs_shape: tuple[int, ...] | None
) -> tuple[torch.nn.Module, Policy, str]:
    from matrl.baselines.value_decomposition import build_q_agents

    net = build_q_agents(config, n_agents, obs_dim, spec.n)
    return net, _GreedyQPolicy(net), "agent_q."


def _deterministic_actor(
    config: TrainConfig, n_agents: int, obs_dim: int, spec: ActionSpec, obs_shape: tuple[int, ...] | None
) -> tuple[torch.nn.Module, Policy, str]:
    from matrl.baselines.maddpg import build_maddpg_actor

    net = build_maddpg_actor(config, n_agents, obs_dim, spec)
    return net, _DeterministicActorPolicy(net), "actor."


PolicyBuilder = Callable[
    [TrainConfig, int, int, ActionSpec, "tuple[int, ...] | None"], "tuple[torch.nn.Module, Policy, str]"
]
#: How a checkpoint's acting policy is rebuilt, by the registry's `AlgoSpec.policy`: the network, the policy
#: that acts with it, and the prefix of its weights in the model file ("" = all of them).
POLICY_BUILDERS: dict[PolicyKind, PolicyBuilder] = {
    "actor_critic": _actor_critic,
    "greedy_q": _greedy_q,
    "deterministic_actor": _deterministic_actor,
}


def load_policy(path: Path) -> tuple[Policy, TrainConfig, int, int]:
    """The acting part of a model checkpoint, rebuilt from the config stored beside the weights."""
    tensors, config_dict, iteration, env_steps = load_model(path)
    config = TrainConfig.from_dict(config_dict)
    probe = make_vector_env(config.env, 1, **config.env_kwargs)
    n_agents, obs_dim, spec = probe.n_agents, probe.obs_dim, probe.action_spec
    obs_shape = getattr(probe, "obs_shape", None)
    if hasattr(probe, "close"):
        probe.close()
    build = POLICY_BUILDERS[algo_spec(config.algo).policy]
    net, policy, prefix = build(config, n_agents, obs_dim, spec, obs_shape)
    if prefix:
        tensors = _section(tensors, prefix)
    try:
        net.load_state_dict(tensors)
    except RuntimeError as err:
        raise ValueError(f"checkpoint {path} does not match its own config: {err}") from None
    return policy, config, iteration, env_steps


def checkpoint_policy(
    path: Path, seed: int = 0, greedy: bool = False
) -> tuple[Callable[[Mapping[str, np.ndarray]], dict[str, Any]], TrainConfig, int]:
    """A checkpoint's policy for one PettingZoo copy of its env (`matrl render`): observations by agent in,
    actions of the agents present out; also the run's config and the checkpoint's iteration.

    The observations of ``make_env`` are the core's for the built-in ids; absent agents' rows are zeros.
    """
    policy, config, iteration, _ = load_policy(path)
    generator = torch.Generator().manual_seed(seed)
    agents: list[str] = []
    if is_third_party(config.env):
        return _adapter_policy(policy, config, seed, greedy), config, iteration

    @torch.no_grad()
    def act(observations: Mapping[str, np.ndarray]) -> dict[str, Any]:
        if not agents:
            from matrl.envs import make_env

            probe = make_env(config.env, **config.env_kwargs)
            agents.extend(probe.possible_agents)
            probe.close()
        first = np.asarray(next(iter(observations.values())), dtype=np.float32)
        obs = np.zeros((1, len(agents), first.size), dtype=np.float32)
        for i, agent in enumerate(agents):
            if agent in observations:
                obs[0, i] = np.asarray(observations[agent], dtype=np.float32).ravel()
        actions = policy.env_actions(obs, greedy, generator)[0]
        return {
            agent: actions[i].item() if actions[i].ndim == 0 else actions[i]
            for i, agent in enumerate(agents)
            if agent in observations
        }

    return act, config, iteration


def _adapter_policy(
    policy: Any, config: TrainConfig, seed: int, greedy: bool
) -> Callable[[Mapping[str, np.ndarray]], dict[str, Any]]:
    """`checkpoint_policy` of a third-party env: its raw observations packed as the PettingZoo adapter packs
    them in training (padded, one-hot id) and the padded actions cut back to each agent's space."""
    generator = torch.Generator().manual_seed(seed)
    core = third_party_core(config.env, 1, **config.env_kwargs)
    core.close()  # only its packing is used: the spaces of one copy

    @torch.no_grad()
    def act(observations: Mapping[str, np.ndarray]) -> dict[str, Any]:
        rows = core.pack_observations(observations)[None]
        actions = policy.env_actions(rows, greedy, generator)[0]
        return core.unpack_actions(actions, list(observations))

    return act


def _section(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors of one sub-module, without its prefix."""
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def check_random_agents(random_agents: tuple[int, ...], n_agents: int, env: str) -> tuple[int, ...]:
    """Sorted, distinct agent indices in range; one line naming the bad value otherwise."""
    for index in random_agents:
        if type(index) is not int or not 0 <= index < n_agents:
            raise ValueError(f"random agent {index!r} is not allowed; {env} has agents 0..{n_agents - 1}")
    if len(set(random_agents)) != len(random_agents):
        raise ValueError(f"random agents {list(random_agents)} repeat an agent; name each at most once")
    return tuple(sorted(random_agents))


@torch.no_grad()
def evaluate(
    path: Path,
    episodes: int = 100,
    seed: int = 0,
    greedy: bool = False,
    random_agents: tuple[int, ...] = (),
) -> Evaluation:
    """Play ``episodes`` episodes (one per env copy, in parallel) with sampled (or greedy) actions; the agents
    in ``random_agents`` act uniformly at random instead (their own generator, so the others' samples do not
    change), which measures a team against a random opponent in a mixed game."""
    if episodes < 1:
        raise ValueError(f"episodes={episodes} is not allowed; expected >= 1")
    policy, config, iteration, env_steps = load_policy(path)
    env = make_vector_env(config.env, episodes, **config.env_kwargs)
    try:
        random_agents = check_random_agents(tuple(random_agents), env.n_agents, config.env)
        generator = torch.Generator().manual_seed(seed)
        uniform = np.random.default_rng(seed + 1)
        obs = env.reset()
        returns = np.zeros((episodes, env.n_agents))
        finished = np.zeros(episodes, dtype=bool)
        while not finished.all():
            actions = policy.env_actions(obs, greedy, generator)
            if random_agents:
                actions = np.array(actions)
                actions[:, list(random_agents)] = uniform_actions(
                    env.action_spec, episodes, random_agents, uniform
                )
            result = env.step(actions)
            newly = result.episode_over & ~finished
            returns[newly] = result.episode_return[newly]
            finished |= result.episode_over
            obs = result.obs
    finally:
        if hasattr(env, "close"):
            env.close()
    return Evaluation(Path(path), config.env, iteration, env_steps, returns, random_agents)
