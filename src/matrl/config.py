"""Typed training configuration, with the paper's settings as named presets.

Every field carries a doc line, which `matrl train --help` shows. A run writes its whole config to
``config.json``; `TrainConfig.from_dict` reads it back, so ``--from-config`` replays a run exactly.
Presets are the paper's appendix Table 3 (grid worlds) where it and the original yaml files disagree
(``../shared/reference/official-matrl.md`` section b.8); the departures are listed in docs/algorithm.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from matrl.algos import ALGOS as _REGISTRY
from matrl.algos import algo_names, algo_spec

MixtureMode = Literal["policy", "params"]
Estimator = Literal["in_sample", "crossfit", "fresh"]
BRStart = Literal["predicted", "mixture"]
NashMethod = Literal["exact", "cma", "replicator", "fictitious_play"]
MetaForm = Literal["auto", "table", "samples"]
Selection = Literal["closest_to_current", "first", "max_welfare", "random"]
ActionBounds = Literal["clip", "tanh"]
Network = Literal["auto", "mlp", "cnn"]
ConvActivation = Literal["leaky_relu", "relu", "none"]
Rollout = Literal["local", "ray"]
Device = Literal["auto", "cpu", "cuda"]

#: Every algorithm name, in registry order (`matrl.algos.ALGOS` says what each one is and does).
ALGOS: tuple[str, ...] = tuple(_REGISTRY)
#: MATRL, its ablations and its controls: one on-policy code path (`matrl.algorithm`).
MATRL_ALGOS: tuple[str, ...] = algo_names(on_policy=True)
#: The algorithms that estimate the meta-game and solve it for rho (the others fix rho or skip the game).
META_GAME_ALGOS: tuple[str, ...] = algo_names(meta_game=True)
#: Value-decomposition baselines for discrete actions (`matrl.baselines`).
VALUE_ALGOS: tuple[str, ...] = algo_names(policy="greedy_q")
#: The nested settings groups of TrainConfig; each algorithm reads some of them (`matrl.algos.AlgoSpec`).
SECTIONS: tuple[str, ...] = ("cnn", "ppo", "meta", "value", "maddpg")


@dataclass(frozen=True)
class PPOConfig:
    """The independent trust-region learner: the predicted step (Eq. 2), and IL's only step."""

    lr: float = 0.002
    """Adam learning rate of the predicted (trust payoff region) step."""
    update_iters: int = 10
    """Gradient steps per batch (paper Table 3: 10; the original yaml: 5)."""
    minibatches: int = 1
    """Minibatches per gradient pass over the batch (1 = full batch, as in the paper)."""
    clip_ratio: float = 0.1
    """PPO policy-ratio clip epsilon."""
    policy_coef: float = 1.0
    """Weight of the clipped surrogate in the loss (paper Table 5: 100 for MuJoCo, against entropy 0.05)."""
    value_coef: float = 1.0
    """Weight of the value loss."""
    entropy_coef: float = 0.05
    """Weight of the entropy bonus (the original code subtracted it in the predicted step; we do not)."""
    kl_coef: float = 0.001
    """Weight of the KL(pi_behaviour || pi) penalty."""
    target_kl: float | None = 0.1
    """Stop an agent's updates once its approximate KL exceeds 1.5x this (None: never stop)."""
    value_clip: float | None = 0.1
    """Clip the value update around the behaviour values (None: plain squared error)."""
    normalize_advantages: bool = True
    """Standardise each agent's advantages over the batch."""
    max_grad_norm: float | None = None
    """Clip each agent's gradient norm (None: no clipping, as in the paper)."""
    gamma: float = 0.99
    """Discount factor."""
    lam: float = 0.95
    """GAE lambda (the original code's hard-coded value)."""
    grad_chunk: int | None = None
    """Samples per forward/backward pass: a larger (mini)batch sums its gradient over chunks of this size (the
    same gradient up to rounding, less memory; for CNNs). None: the whole minibatch in one pass."""

    def validate(self, batch_size: int) -> None:
        """One ValueError line for the first bad value of this section (minibatches need the batch size)."""
        p = self
        for name in ("lr", "clip_ratio"):
            _check(getattr(p, name) > 0, f"ppo.{name}", getattr(p, name), "> 0")
        for name in ("policy_coef", "value_coef", "entropy_coef", "kl_coef"):
            _check(getattr(p, name) >= 0, f"ppo.{name}", getattr(p, name), ">= 0")
        _check(p.update_iters >= 1, "ppo.update_iters", p.update_iters, ">= 1")
        _check(1 <= p.minibatches <= batch_size, "ppo.minibatches", p.minibatches, "in 1..batch_size")
        _check(0 < p.gamma <= 1, "ppo.gamma", p.gamma, "in (0, 1]")
        _check(0 <= p.lam <= 1, "ppo.lam", p.lam, "in [0, 1]")
        for name, value in (("ppo.target_kl", p.target_kl), ("ppo.value_clip", p.value_clip)):
            _check(value is None or value > 0, name, value, "> 0 or None")
        _check(p.max_grad_norm is None or p.max_grad_norm > 0, "ppo.max_grad_norm", p.max_grad_norm, "> 0")
        _check(p.grad_chunk is None or p.grad_chunk >= 1, "ppo.grad_chunk", p.grad_chunk, ">= 1 or None")


@dataclass(frozen=True)
class CNNConfig:
    """Conv layers of the image networks (Pong; appendix E: three conv layers, VALID padding). The default is
    the DQN torso; the paper read literally (and the original code) is channels 8 4 3, kernels 3 3 3."""

    channels: tuple[int, ...] = (32, 64, 64)
    """Filters of each conv layer."""
    kernels: tuple[int, ...] = (8, 4, 3)
    """Square kernel size of each conv layer."""
    strides: tuple[int, ...] = (4, 2, 1)
    """Stride of each conv layer."""
    activation: ConvActivation = "leaky_relu"
    """After each conv layer (``none``: linear convs, as in the original code)."""

    def validate(self) -> None:
        """One ValueError line for the first bad value of this section."""
        c = self
        _check(
            len(c.channels) == len(c.kernels) == len(c.strides) >= 1,
            "cnn.channels",
            c.channels,
            f"as many layers as cnn.kernels={c.kernels} and cnn.strides={c.strides} (at least one)",
        )
        for name in ("channels", "kernels", "strides"):
            _check(all(v >= 1 for v in getattr(c, name)), f"cnn.{name}", getattr(c, name), "values >= 1")
        options = get_args(ConvActivation)
        _check(c.activation in options, "cnn.activation", c.activation, f"one of {options}")


@dataclass(frozen=True)
class MetaConfig:
    """What MATRL adds to the independent learners: meta-game, Nash, mixture, best response."""

    meta_ratio_clip: float | None = 0.1
    """Truncate each ratio pihat_j / pi_j to [1 - c, 1 + c] in the meta-game estimate (None: no clip)."""
    nash_method: NashMethod = "exact"
    """Meta-game solver (the paper used CMA-ES; `exact` enumerates every equilibrium and verifies it)."""
    selection: Selection = "closest_to_current"
    """Rule picking one equilibrium when there are several (the paper: random)."""
    mixture: MixtureMode = "policy"
    """pibar: `policy` mixes action distributions (the paper), `params` mixes weights (the original code)."""
    br_lr: float = 0.002
    """Adam learning rate of the best-response step."""
    br_iters: int = 5
    """Gradient steps of the best response."""
    br_importance_clip: float = 0.1
    """Truncate each other agent's pibar_j / pi_j to [1 - c, 1 + c] in the best-response weights."""
    estimator: Estimator = "in_sample"
    """Meta-game payoffs from: ``in_sample`` (the batch the predicted step was fitted on, the paper),
    ``crossfit`` (2 folds of env copies: a predicted step fitted on one half is scored on the other, and
    back), or ``fresh`` (a held-out batch of ``fresh_fraction`` x batch_size env steps collected with pi)."""
    fresh_fraction: float = 0.25
    """Size of the ``fresh`` held-out batch, a fraction of batch_size (its env steps count in the budget)."""
    br_start: BRStart = "mixture"
    """Where each agent's best response starts: ``mixture`` (the weights rho_i theta_i + (1 - rho_i)
    thetahat_i, as the original code did, so rho_i acts on the agent's own step; the default, chosen by
    docs/trust_stable_region.md) or ``predicted`` (pihat_i whatever rho_i is: Algorithm 2 read literally, and
    what runs written before this option trained with). With ``mixture='params'`` the start is the
    interpolation either way."""
    placebo_keep_rate: float = 0.2
    """``placebo`` only: each agent keeps its current policy (rho_i = 1) with this chance per iteration."""
    form: MetaForm = "auto"
    """The meta-game's form: ``table`` (all 2^n payoffs, up to 8 agents; the exact solver and every
    diagnostic), ``samples`` (payoffs evaluated from the samples at any profile, any n; its own verified
    solver, `nash_method` unused), ``auto``: the table up to 8 agents, the samples above."""

    def validate(self) -> None:
        """One ValueError line for the first bad value of this section (the crossfit estimator's need for
        env copies is checked by `TrainConfig.validate`, which knows num_envs)."""
        m = self
        _check(m.br_lr > 0, "meta.br_lr", m.br_lr, "> 0")
        _check(m.br_iters >= 1, "meta.br_iters", m.br_iters, ">= 1")
        _check(0 < m.br_importance_clip < 1, "meta.br_importance_clip", m.br_importance_clip, "in (0, 1)")
        _check(
            m.meta_ratio_clip is None or 0 < m.meta_ratio_clip < 1,
            "meta.meta_ratio_clip",
            m.meta_ratio_clip,
            "in (0, 1) or None",
        )
        _check(0 < m.fresh_fraction <= 1, "meta.fresh_fraction", m.fresh_fraction, "in (0, 1]")
        _check(0 <= m.placebo_keep_rate <= 1, "meta.placebo_keep_rate", m.placebo_keep_rate, "in [0, 1]")
        for name, allowed in (
            ("nash_method", NashMethod),
            ("selection", Selection),
            ("mixture", MixtureMode),
            ("estimator", Estimator),
            ("br_start", BRStart),
            ("form", MetaForm),
        ):
            options = get_args(allowed)
            _check(getattr(m, name) in options, f"meta.{name}", getattr(m, name), f"one of {options}")


@dataclass(frozen=True)
class ValueConfig:
    """VDN, QMIX and QTRAN (discrete actions). Defaults: paper Table 4 and PyMARL (docs/baselines.md)."""

    lr: float = 0.0005
    """Adam learning rate of the agent Q-networks and the mixer (PyMARL: 0.0005)."""
    buffer_size: int = 100_000
    """Replay capacity in transitions (oldest overwritten first)."""
    batch_size: int = 256
    """Transitions per gradient step."""
    steps_per_update: int = 1
    """Vector-env steps (each moves every env copy once) collected between gradient steps."""
    warmup_steps: int = 5_000
    """Env steps collected before the first gradient step."""
    target_update_interval: int = 200
    """Gradient steps between target-network copies (paper Table 4: 200)."""
    double_q: bool = True
    """Double-Q targets: the online nets pick the next action, the target nets evaluate it (Table 4)."""
    epsilon_start: float = 1.0
    """Initial epsilon of epsilon-greedy exploration."""
    epsilon_end: float = 0.05
    """Final epsilon."""
    epsilon_anneal_steps: int = 50_000
    """Env steps over which epsilon falls linearly (PyMARL: 50,000)."""
    max_grad_norm: float = 10.0
    """Clip the global gradient norm (PyMARL: 10)."""
    gamma: float = 0.99
    """Discount factor."""
    mixer_embed: int = 128
    """QMIX mixing-network width (Table 4: 2 layers of 128)."""
    qtran_opt_coef: float = 1.0
    """QTRAN weight of L_opt (PyMARL: 1)."""
    qtran_nopt_coef: float = 0.1
    """QTRAN weight of L_nopt (PyMARL: 0.1)."""

    def validate(self) -> None:
        """One ValueError line for the first bad value of this section."""
        v = self
        for name in ("lr", "max_grad_norm", "epsilon_anneal_steps", "mixer_embed"):
            _check(getattr(v, name) > 0, f"value.{name}", getattr(v, name), "> 0")
        for name in ("buffer_size", "batch_size", "steps_per_update", "target_update_interval"):
            _check(getattr(v, name) >= 1, f"value.{name}", getattr(v, name), ">= 1")
        _check(v.batch_size <= v.buffer_size, "value.batch_size", v.batch_size, "<= value.buffer_size")
        _check(v.warmup_steps >= 0, "value.warmup_steps", v.warmup_steps, ">= 0")
        for name in ("epsilon_start", "epsilon_end"):
            _check(0 <= getattr(v, name) <= 1, f"value.{name}", getattr(v, name), "in [0, 1]")
        for name in ("qtran_opt_coef", "qtran_nopt_coef"):
            _check(getattr(v, name) >= 0, f"value.{name}", getattr(v, name), ">= 0")
        _check(0 < v.gamma <= 1, "value.gamma", v.gamma, "in (0, 1]")


@dataclass(frozen=True)
class MADDPGConfig:
    """MADDPG (continuous actions). Defaults: paper Table 5 and the MADDPG code (docs/baselines.md)."""

    hidden: tuple[int, ...] = (300, 300)
    """Hidden widths of every actor and critic (Table 5: 2 x 300)."""
    actor_lr: float = 0.001
    """Adam learning rate of the actors (Table 5: 0.001)."""
    critic_lr: float = 0.001
    """Adam learning rate of the critics (Table 5: 0.001)."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions."""
    batch_size: int = 100
    """Transitions per gradient step (Table 5: 100)."""
    update_every: int = 100
    """Env steps between update rounds (Table 5: 100)."""
    updates_per_round: int = 1
    """Gradient steps per update round (the MADDPG code: 1)."""
    warmup_steps: int = 10_000
    """Env steps of uniform random actions before the first update (Table 5: 10,000)."""
    tau: float = 0.01
    """Polyak rate of the target networks (the MADDPG code: 0.01)."""
    exploration_noise: float = 0.1
    """Std of the Gaussian action noise, as a fraction of each action's half-range."""
    max_grad_norm: float = 0.5
    """Clip each network's gradient norm (the MADDPG code: 0.5)."""
    action_reg: float = 0.001
    """Weight of the actors' squared pre-activation penalty (the MADDPG code: 0.001)."""
    gamma: float = 0.99
    """Discount factor (Table 5: 0.99)."""

    def validate(self) -> None:
        """One ValueError line for the first bad value of this section."""
        d = self
        _check(len(d.hidden) >= 1 and all(h >= 1 for h in d.hidden), "maddpg.hidden", d.hidden, "widths >= 1")
        for name in ("actor_lr", "critic_lr", "max_grad_norm"):
            _check(getattr(d, name) > 0, f"maddpg.{name}", getattr(d, name), "> 0")
        for name in ("buffer_size", "batch_size", "update_every", "updates_per_round"):
            _check(getattr(d, name) >= 1, f"maddpg.{name}", getattr(d, name), ">= 1")
        _check(d.batch_size <= d.buffer_size, "maddpg.batch_size", d.batch_size, "<= maddpg.buffer_size")
        for name in ("warmup_steps", "exploration_noise", "action_reg"):
            _check(getattr(d, name) >= 0, f"maddpg.{name}", getattr(d, name), ">= 0")
        _check(0 < d.tau <= 1, "maddpg.tau", d.tau, "in (0, 1]")
        _check(0 < d.gamma <= 1, "maddpg.gamma", d.gamma, "in (0, 1]")


@dataclass(frozen=True)
class TrainConfig:
    """One training run: environment, algorithm, budget, learner and MATRL settings."""

    env: str = "checkers_v0"
    """Environment id (see `matrl envs`)."""
    algo: str = "matrl"
    """matrl, or an ablation on the same code path: il (independent PPO), il-pp (rho = 0), matrl-nobr; or a
    baseline: vdn, qmix, qtran (discrete actions), maddpg (continuous)."""
    seed: int = 0
    """Seeds torch (init, sampling), numpy and the Nash selection."""
    total_steps: int = 400_000
    """Environment steps to train for (each step moves every agent once)."""
    batch_size: int = 2000
    """Environment steps collected per iteration (split evenly over the env copies)."""
    num_envs: int = 16
    """Environment copies stepped together; must divide batch_size."""
    hidden: tuple[int, ...] = (128, 128)
    """Hidden layer widths of every policy and value MLP (leaky ReLU); with a CNN, the fully connected layers
    after the convs."""
    network: Network = "auto"
    """Policy and value networks: ``mlp``, ``cnn`` (per-agent conv layers, then ``hidden``), or ``auto``:
    ``cnn`` for image observations (Pong), ``mlp`` otherwise."""
    cnn: CNNConfig = field(default_factory=CNNConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    meta: MetaConfig = field(default_factory=MetaConfig)
    value: ValueConfig = field(default_factory=ValueConfig)
    maddpg: MADDPGConfig = field(default_factory=MADDPGConfig)
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments of the environment constructor (JSON values)."""
    checkpoint_every: int = 10
    """Iterations between checkpoints (the last iteration is always saved)."""
    checkpoint_every_seconds: float | None = 300.0
    """Also save the training state (for --resume; no model file) once this many seconds have passed since the
    last checkpoint, so that a slow env loses at most that much on a kill (None: iterations only)."""
    threads: int = 1
    """torch CPU threads (1 is fastest for these small networks; run seeds in parallel instead)."""
    env_workers: int = 1
    """Processes stepping the env copies (MuJoCo and Pong ids only; 2 let both cores of a laptop simulate)."""
    obs_norm: bool = False
    """Standardise observations with running per-agent statistics (saved in checkpoints)."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this before advantages are computed (reported returns stay unscaled)."""
    log_std_init: float = -0.5
    """Initial log standard deviation of continuous policies (state-independent, learned per agent)."""
    action_bounds: ActionBounds = "clip"
    """Continuous actions: 'clip' the Gaussian sample for the env, or 'tanh'-squash it (exact log-density)."""
    rollout: Rollout = "local"
    """Collection backend: ``local`` (env copies in this process or its ``env_workers``) or ``ray``
    (``workers`` Ray actors, each with ``num_envs / workers`` copies and a CPU copy of the policies;
    ``pip install "matrl[ray]"``). Same seed, same numbers: one Ray worker reproduces the local run."""
    workers: int = 1
    """Ray rollout actors (``rollout=ray`` only); each holds ``num_envs / workers`` env copies."""
    envs_per_worker: int | None = None
    """Env copies per Ray actor; when given, ``num_envs`` is set to ``workers * envs_per_worker``."""
    address: str | None = None
    """Ray cluster to join: ``auto`` (the one ``ray start`` made here), ``HOST:PORT``, or None for a local Ray
    instance started by this run."""
    device: Device = "cpu"
    """Where the learner's networks train: ``cpu``, ``cuda``, or ``auto`` (cuda when available). Acting in the
    env copies stays on the CPU."""

    def __post_init__(self) -> None:
        # envs_per_worker fixes num_envs (config.json then holds both, consistently, and round-trips).
        e, k = self.envs_per_worker, self.workers
        if isinstance(e, int) and isinstance(k, int) and e >= 1 and k >= 1:
            object.__setattr__(self, "num_envs", k * e)

    @property
    def steps_per_env(self) -> int:
        """Steps each env copy takes per iteration."""
        return self.batch_size // self.num_envs

    @property
    def fresh_steps_per_env(self) -> int:
        """Steps each env copy takes per iteration for the ``fresh`` held-out batch (0 if there is none)."""
        if self.algo not in META_GAME_ALGOS or self.meta.estimator != "fresh":
            return 0
        return max(1, round(self.meta.fresh_fraction * self.steps_per_env))

    @property
    def steps_per_iteration(self) -> int:
        """Env steps one iteration collects: the batch, plus the held-out batch of the ``fresh`` estimator."""
        return self.batch_size + self.fresh_steps_per_env * self.num_envs

    @property
    def iterations(self) -> int:
        """Iterations needed to reach ``total_steps`` (the last one may overshoot)."""
        return math.ceil(self.total_steps / self.steps_per_iteration)

    def validate(self) -> TrainConfig:
        """Raise one clear ValueError for the first bad value; return self so calls chain."""
        _check(self.algo in ALGOS, "algo", self.algo, f"one of {', '.join(ALGOS)}")
        for name in ("total_steps", "batch_size", "num_envs", "checkpoint_every", "threads", "env_workers"):
            _check(getattr(self, name) >= 1, name, getattr(self, name), ">= 1")
        _check(
            self.batch_size % self.num_envs == 0,
            "batch_size",
            self.batch_size,
            f"a multiple of num_envs={self.num_envs}",
        )
        _check(
            all(h >= 1 for h in self.hidden) and len(self.hidden) >= 1, "hidden", self.hidden, "widths >= 1"
        )
        self.ppo.validate(self.batch_size)
        _check(
            self.env_workers <= self.num_envs, "env_workers", self.env_workers, f"<= num_envs={self.num_envs}"
        )
        _check(
            math.isfinite(self.reward_scale) and self.reward_scale > 0,
            "reward_scale",
            self.reward_scale,
            "a finite number > 0",
        )
        _check(math.isfinite(self.log_std_init), "log_std_init", self.log_std_init, "a finite number")
        _check(
            self.action_bounds in get_args(ActionBounds),
            "action_bounds",
            self.action_bounds,
            f"one of {get_args(ActionBounds)}",
        )
        devices = get_args(Device)
        _check(self.device in devices, "device", self.device, f"one of {', '.join(devices)}")
        _check(self.network in get_args(Network), "network", self.network, f"one of {get_args(Network)}")
        self.cnn.validate()
        _check(
            not (self.obs_norm and self.network == "cnn"),
            "obs_norm",
            self.obs_norm,
            "False with network='cnn' (pixels are scaled by 1/255)",
        )
        self.meta.validate()
        if self.algo in META_GAME_ALGOS and self.meta.estimator == "crossfit":
            _check(
                self.num_envs >= 2,
                "meta.estimator",
                self.meta.estimator,
                f"'in_sample' or 'fresh' with num_envs={self.num_envs} (crossfit splits the env copies into "
                "2 folds, so it needs num_envs >= 2)",
            )
        # Imported here, so that loading a config does not load the env modules.
        from matrl.envs.registry import check_env_kwargs

        check_env_kwargs(self.env, self.env_kwargs)
        self._validate_rollout()
        self.value.validate()
        self.maddpg.validate()
        _validate_finite(self)
        return self

    def _validate_rollout(self) -> None:
        rollouts = get_args(Rollout)
        _check(self.rollout in rollouts, "rollout", self.rollout, f"one of {', '.join(rollouts)}")
        _check(self.workers >= 1, "workers", self.workers, ">= 1")
        epw = self.envs_per_worker
        _check(epw is None or epw >= 1, "envs_per_worker", epw, ">= 1 or None")
        if self.rollout == "local":
            for name, default in (("workers", 1), ("envs_per_worker", None), ("address", None)):
                value = getattr(self, name)
                _check(
                    value == default, name, value, f"{default} with rollout='local' (it is for rollout='ray')"
                )
            return
        ray_algos = algo_names(ray=True)
        _check(
            self.algo in ray_algos,
            "algo",
            self.algo,
            f"one of {', '.join(ray_algos)} with rollout='ray' (Ray rollouts are for the PPO-family algos; "
            "the baselines act with their own exploration, in-process)",
        )
        _check(self.workers <= self.num_envs, "workers", self.workers, f"<= num_envs={self.num_envs}")
        _check(
            self.num_envs % self.workers == 0,
            "workers",
            self.workers,
            f"a divisor of num_envs={self.num_envs} (each Ray worker holds num_envs / workers copies)",
        )
        per_worker = self.num_envs // self.workers
        _check(
            self.env_workers <= per_worker,
            "env_workers",
            self.env_workers,
            f"<= num_envs / workers = {per_worker} (env processes inside each Ray worker)",
        )
        _check(
            self.address is None or self.address.strip() != "",
            "address",
            self.address,
            "'auto', HOST:PORT or None",
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists), with only the algorithm's own sections (`SECTIONS`):
        a MATRL run's config.json carries no QMIX or MADDPG settings. `from_dict` fills missing sections with
        their defaults, and reads old files that hold every section."""
        data = dataclasses.asdict(self)
        used = algo_spec(self.algo).sections if self.algo in ALGOS else SECTIONS
        for section in SECTIONS:
            if section not in used:
                del data[section]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of `to_dict`; unknown keys and values of the wrong type are an error (one line naming the
        field), as a hand-edited config.json would otherwise train with a string seed or fail deep inside."""
        data = dict(data)
        meta = data.get("meta")
        if isinstance(meta, dict) and "br_start" not in meta:
            # Written before meta.br_start existed: those runs started the best response from pihat.
            data["meta"] = {**meta, "br_start": "predicted"}
        typed: TrainConfig = _from_fields(cls, data, "")
        if typed.algo not in ALGOS:  # a plain string field: the registry holds the names
            allowed = ", ".join(map(repr, ALGOS))
            raise ValueError(f"algo={typed.algo!r} is not allowed; expected one of {allowed}")
        return typed

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        """Read a ``config.json`` written by a run."""
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"config file {path} does not exist") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"config file {path} is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise ValueError(f"config file {path} must hold a JSON object, got {type(data).__name__}")
        try:
            return cls.from_dict(data)
        except ValueError as err:
            raise ValueError(f"config file {path}: {err}") from None


def _check(ok: bool, name: str, value: object, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r} is not allowed; expected {allowed}")


def _validate_finite(config: TrainConfig) -> None:
    """Every float setting finite (``--ppo.lr inf`` would only show as a NaN loss iterations later), and the
    time-based checkpoint interval positive."""
    for name, value in _float_settings(config, ""):
        _check(math.isfinite(value), name, value, "a finite number")
    every = config.checkpoint_every_seconds
    _check(every is None or every > 0, "checkpoint_every_seconds", every, "> 0 or None")


def _float_settings(section: Any, prefix: str) -> list[tuple[str, float]]:
    found = []
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value):
            found += _float_settings(value, f"{prefix}{f.name}.")
        elif isinstance(value, float):
            found.append((f"{prefix}{f.name}", value))
    return found


_SECTION_TYPE = TypeVar("_SECTION_TYPE")


def _from_fields(cls: type[_SECTION_TYPE], data: dict[str, Any], prefix: str) -> _SECTION_TYPE:
    """``cls(**data)`` with unknown keys refused and every value checked against its field's type."""
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        where = f"{prefix.rstrip('.')}." if prefix else ""
        raise ValueError(f"unknown config keys {where}{unknown}; allowed: {sorted(known)}")
    return cls(**{name: _typed(f"{prefix}{name}", value, hints[name]) for name, value in data.items()})


def _typed(name: str, value: Any, hint: Any) -> Any:
    """``value`` as the JSON form of a field of type ``hint`` (tuples from lists, floats from ints), or one
    ValueError naming the field, the value and the type expected (bools are not numbers here)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType) and type(None) in args:
        if value is None:
            return None
        (inner,) = (a for a in args if a is not type(None))
        return _typed(name, value, inner) if _matches(value, inner) else _refuse(name, value, hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, dict):
            return _refuse(name, value, hint)
        return _from_fields(hint, dict(value), f"{name}.")
    if not _matches(value, hint):
        return _refuse(name, value, hint)
    if hint is float:
        return float(value)
    if origin is tuple:
        return tuple(_typed(name, item, args[0]) for item in value)
    return value


def _matches(value: Any, hint: Any) -> bool:
    origin, args = get_origin(hint), get_args(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is Literal:
        return isinstance(value, str) and value in args
    if origin is tuple:
        return isinstance(value, list | tuple) and all(_matches(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(key, str) for key in value)
    return isinstance(value, dict) if dataclasses.is_dataclass(hint) else True


def _refuse(name: str, value: Any, hint: Any) -> Any:
    raise ValueError(f"{name}={value!r} is not allowed; expected {_describe(hint)}")


def _describe(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _describe(a) for a in args)
    if origin is Literal:
        return f"one of {', '.join(repr(a) for a in args)}"
    if origin is tuple:
        return f"a list of {_describe(args[0]).removeprefix('an ').removeprefix('a ')}s"
    names = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        dict: "a JSON object",
    }
    if origin is dict or dataclasses.is_dataclass(hint):
        return "a JSON object"
    return names.get(hint, str(hint))


#: Paper appendix Table 5 (multi-agent MuJoCo): batch 4000, 128x128 MLPs, lr and BR lr 0.002, 10 policy and 5
#: BR iterations, value coefficient 0.001 against policy coefficient 100, entropy 0.05, KL 0.01, gamma 0.99.
#: Additions the table is silent on (docs/mujoco.md): observation normalisation, 2 env worker processes.
_MUJOCO: dict[str, Any] = {
    "total_steps": 1_000_000,
    "batch_size": 4000,
    "num_envs": 16,
    "env_workers": 2,
    "obs_norm": True,
    "checkpoint_every": 25,
    "ppo": PPOConfig(policy_coef=100.0, value_coef=0.001, entropy_coef=0.05, kl_coef=0.01),
}

#: Paper appendix Table 6 (two-player Pong): batch 4000, lr and BR lr 0.002, 10 policy and 5 BR iterations,
#: policy coefficient 10, value coefficient 0.1, entropy 0.05, KL 0.01, gamma 0.99, "3 layer CNN, 2 layer FC"
#: (here the DQN torso and one hidden layer of 128, the original code's width, then the output layer). The
#: table is silent on the rest (docs/pong.md): the budget (1M agent steps, 250 iterations) with a checkpoint
#: every 25 (10 checkpoints, as in Fig. 6), 16 env copies, the original code's frames (84x84 RGB, every frame
#: a step: in our runs they beat the DQN pipeline against a random player at equal steps and at equal CPU
#: time, docs/pong.md), and gradients summed over chunks of 1000 samples (memory).
_PONG: dict[str, Any] = {
    "total_steps": 1_000_000,
    "batch_size": 4000,
    "num_envs": 16,
    "hidden": (128,),
    "network": "cnn",
    "checkpoint_every": 25,
    "env_kwargs": {"preprocessing": "paper"},
    "ppo": PPOConfig(policy_coef=10.0, value_coef=0.1, entropy_coef=0.05, kl_coef=0.01, grad_chunk=1000),
    "meta": MetaConfig(br_lr=0.002, br_iters=5),
}

#: Paper appendix Table 3 (grid worlds); 400k steps for Checkers (the issue's budget), 1M for Switch
#: (the original config's 500 epochs x 2000 steps).
PRESETS: dict[str, TrainConfig] = {
    "checkers_v0": TrainConfig(env="checkers_v0", total_steps=400_000, ppo=PPOConfig(value_coef=1.0)),
    "switch2_v0": TrainConfig(env="switch2_v0", total_steps=1_000_000, ppo=PPOConfig(value_coef=0.01)),
    "switch4_v0": TrainConfig(env="switch4_v0", total_steps=1_000_000, ppo=PPOConfig(value_coef=0.01)),
    # A one-state repeated game: small batches, a quick sanity environment for tests and demos.
    "matrix_v0": TrainConfig(env="matrix_v0", total_steps=20_000, batch_size=200, num_envs=8, hidden=(32,)),
    "hopper_3x1": TrainConfig(env="hopper_3x1", **_MUJOCO),
    "ant_4x2": TrainConfig(env="ant_4x2", **_MUJOCO),
    "pong_v3": TrainConfig(env="pong_v3", **_PONG),
}


def preset(env: str, algo: str | None = None) -> TrainConfig:
    """The paper's settings for ``env`` and ``algo`` (the generic defaults for envs without a preset).

    MADDPG departs from the MuJoCo preset where its own settings say so: 4 env copies in this process (so an
    update round every 100 env steps is 25 steps of each copy), no observation normalisation (the MADDPG code
    has none).
    """
    base = PRESETS.get(env, TrainConfig(env=env))
    if algo is None:
        return base
    return dataclasses.replace(base, algo=algo, **algo_spec(algo).preset)
