"""Every algorithm matrl trains, in one registry: the only place that dispatches on an algorithm's name.

An entry says which learner trains it, which config sections it reads, how `matrl evaluate` / `render` /
`crossplay` rebuild its acting policy from a model checkpoint, which action kinds it supports and whether Ray
rollouts can feed it. Learners and policy builders are named as ``"module:attribute"`` and imported only when
used, so this module imports nothing from matrl: the config, the training loop and the evaluation commands
all read it without an import cycle.

Adding an algorithm is one module (a class taking ``(config, collector)`` that satisfies
`matrl.learners.protocol.Learner`) plus one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

PolicyKind = Literal["actor_critic", "greedy_q", "deterministic_actor"]
ActionKind = Literal["discrete", "continuous"]

_MATRL: Final = "matrl.algorithm:MATRL"
_BOTH: Final[frozenset[ActionKind]] = frozenset({"discrete", "continuous"})
#: The sections of TrainConfig that MATRL's code path reads (beyond the top-level settings).
_ON_POLICY_SECTIONS: Final = ("ppo", "meta", "cnn")


@dataclass(frozen=True)
class AlgoSpec:
    """One algorithm of the registry.

    Attributes:
        summary: one line for help texts and `matrl algos`-style listings.
        learner: ``"module:attribute"`` of the learner class, built as ``cls(config, collector)``.
        policy: how a checkpoint's acting policy is rebuilt (`matrl.eval.evaluate.POLICY_BUILDERS`):
            ``actor_critic`` (MATRL's networks: sampled or greedy actions, cross-play), ``greedy_q``
            (argmax of per-agent Q-networks) or ``deterministic_actor``.
        sections: the TrainConfig sections (``ppo``, ``meta``, ``cnn``, ``value``, ``maddpg``) it reads.
        action_kinds: the action spaces it can act in.
        mixed_action_counts: agents with different ``Discrete(K_i)`` counts are handled (masked logits).
        ray: ``--rollout ray`` can collect for it.
        meta_game: it estimates the meta-game and solves it for rho (the others fix rho or skip the game).
        preset: TrainConfig fields it sets over an env's preset (`matrl.config.preset`).
    """

    summary: str
    learner: str
    policy: PolicyKind
    sections: tuple[str, ...]
    action_kinds: frozenset[ActionKind]
    mixed_action_counts: bool = False
    ray: bool = False
    meta_game: bool = False
    preset: Mapping[str, Any] = field(default_factory=dict)

    @property
    def on_policy(self) -> bool:
        """MATRL's code path (`matrl.algorithm`): MATRL itself, its ablations and its controls."""
        return self.learner == _MATRL


def _matrl_variant(summary: str, meta_game: bool = False) -> AlgoSpec:
    return AlgoSpec(
        summary,
        _MATRL,
        "actor_critic",
        _ON_POLICY_SECTIONS,
        _BOTH,
        mixed_action_counts=True,
        ray=True,
        meta_game=meta_game,
    )


def _value_method(summary: str, cls: str) -> AlgoSpec:
    return AlgoSpec(summary, f"matrl.baselines.{cls}", "greedy_q", ("value",), frozenset({"discrete"}))


ALGOS: Final[dict[str, AlgoSpec]] = {
    "matrl": _matrl_variant("MATRL (Algorithm 1): predicted step, meta-game Nash rho, best response", True),
    "il": _matrl_variant("independent PPO (one trust-region step per agent, no meta-game)"),
    "il-pp": _matrl_variant("MATRL with rho = 0: predicted step then best response, no meta-game"),
    "matrl-nobr": _matrl_variant("MATRL without the best response (the mixture is the new policy)", True),
    "il-matched": _matrl_variant("IL with MATRL's gradient steps per iteration (compute-matched control)"),
    "keep": _matrl_variant("rho = 1 for every agent (control: the best response starts from pi)"),
    "placebo": _matrl_variant("random rho: each agent keeps pi at --meta.placebo-keep-rate (control)"),
    "vdn": _value_method("VDN: sum of per-agent Q-values (discrete actions)", "vdn:VDN"),
    "qmix": _value_method("QMIX: monotonic mixing network (discrete actions)", "qmix:QMIX"),
    "qtran": _value_method("QTRAN: transformed joint action-value (discrete actions)", "qtran:QTRAN"),
    "maddpg": AlgoSpec(
        "MADDPG: centralised critics, deterministic actors (continuous actions)",
        "matrl.baselines.maddpg:MADDPG",
        "deterministic_actor",
        ("maddpg",),
        frozenset({"continuous"}),
        # 4 env copies in this process (an update round every 100 env steps is 25 steps of each copy); no
        # observation normalisation (the MADDPG code has none).
        preset={"num_envs": 4, "env_workers": 1, "obs_norm": False},
    ),
}


def algo_names(**flags: Any) -> tuple[str, ...]:
    """Names of the registered algorithms whose spec has every given attribute value, in registry order
    (``algo_names(on_policy=True)``, ``algo_names(policy="greedy_q")``)."""
    return tuple(name for name, spec in ALGOS.items() if all(getattr(spec, k) == v for k, v in flags.items()))


def algo_spec(name: str) -> AlgoSpec:
    """The registry entry of ``name``, or a one-line ValueError listing the algorithms there are."""
    try:
        return ALGOS[name]
    except KeyError:
        raise ValueError(f"algo={name!r} is not allowed; expected one of {', '.join(ALGOS)}") from None


def load_attribute(path: str) -> Any:
    """The object ``"module:attribute"`` names (imported now)."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def make_learner(config: Any, collector: Any) -> Any:
    """The learner of ``config.algo`` on ``collector``'s environment (its module is imported only now).

    Algorithms without masked per-agent logits are refused in one line for agents with different action
    counts (a third-party env's `ActionSpec.counts`) rather than sampled out of range.
    """
    spec = algo_spec(config.algo)
    counts = getattr(collector.action_spec, "counts", ())
    if counts and not spec.mixed_action_counts:
        allowed = algo_names(mixed_action_counts=True)
        raise ValueError(
            f"algo={config.algo!r} is not allowed for {config.env}, whose agents have different action "
            f"counts {tuple(counts)}; expected one of {', '.join(allowed)} (they mask each agent's "
            "missing actions)"
        )
    return load_attribute(spec.learner)(config, collector)
