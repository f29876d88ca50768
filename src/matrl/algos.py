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
#: How an on-policy algorithm sets rho: a Nash equilibrium of the meta-game, or fixed (0 = switch to the
#: predicted policy, 1 = keep the current one, or each agent keeping at random at a given rate).
RhoRule = Literal["nash", "switch", "keep", "placebo"]


@dataclass(frozen=True)
class Variant:
    """Which steps of Algorithm 1 an algorithm on MATRL's code path runs: the paper's ablations are flags.

    Attributes:
        meta_step: steps 3-6 follow the predicted step (False: IL, whose predicted step is its update).
        rho: how rho is set (`RhoRule`).
        best_response: step 6 runs (False: MATRL w/o BR, whose new policy is the mixture itself).
        br_from_mixture: with ``--meta.br-start mixture`` the best response starts from the interpolated
            weights (False: it continues from the predicted ones, as the compute-matched IL control does).
    """

    meta_step: bool = True
    rho: RhoRule = "nash"
    best_response: bool = True
    br_from_mixture: bool = True


_MATRL: Final = "matrl.algorithm:MATRL"
_BOTH: Final[frozenset[ActionKind]] = frozenset({"discrete", "continuous"})
#: The sections of TrainConfig that MATRL's code path reads (beyond the top-level settings).
_ON_POLICY_SECTIONS: Final = ("ppo", "meta", "cnn")


@dataclass(frozen=True)
class AlgoSpec:
    """One algorithm of the registry.

    Attributes:
        summary: one line for help texts and listings.
        learner: ``"module:attribute"`` of the learner class, built as ``cls(config, collector)``.
        policy: how a checkpoint's acting policy is rebuilt (`matrl.eval.evaluate.POLICY_BUILDERS`):
            ``actor_critic`` (MATRL's networks: sampled or greedy actions, cross-play), ``greedy_q``
            (argmax of per-agent Q-networks) or ``deterministic_actor``.
        sections: the TrainConfig sections (``ppo``, ``meta``, ``cnn``, ``value``, ``maddpg``) it reads.
        action_kinds: the action spaces it can act in.
        mixed_action_counts: agents with different ``Discrete(K_i)`` counts are handled (masked logits).
        ray: ``--rollout ray`` can collect for it.
        variant: for MATRL's code path, which of its steps run (None for the baselines).
        preset: TrainConfig fields it sets over an env's preset (`matrl.config.preset`).
    """

    summary: str
    learner: str
    policy: PolicyKind
    sections: tuple[str, ...]
    action_kinds: frozenset[ActionKind]
    mixed_action_counts: bool = False
    ray: bool = False
    variant: Variant | None = None
    preset: Mapping[str, Any] = field(default_factory=dict)

    @property
    def on_policy(self) -> bool:
        """MATRL's code path (`matrl.algorithm`): MATRL itself, its ablations and its controls."""
        return self.variant is not None

    @property
    def meta_game(self) -> bool:
        """It estimates the meta-game and solves it for rho (the others fix rho or skip the game)."""
        return self.variant is not None and self.variant.rho == "nash"


def _on_policy(summary: str, variant: Variant) -> AlgoSpec:
    return AlgoSpec(
        summary,
        _MATRL,
        "actor_critic",
        _ON_POLICY_SECTIONS,
        _BOTH,
        mixed_action_counts=True,
        ray=True,
        variant=variant,
    )


def _value_method(summary: str, cls: str) -> AlgoSpec:
    return AlgoSpec(summary, f"matrl.baselines.{cls}", "greedy_q", ("value",), frozenset({"discrete"}))


NO_BR: Final = Variant(best_response=False)
#: IL with MATRL's gradient steps: rho = 1 makes the "best response" more PPO steps on pi's data, continuing
#: from the predicted weights.
MATCHED: Final = Variant(rho="keep", br_from_mixture=False)

ALGOS: Final[dict[str, AlgoSpec]] = {
    "matrl": _on_policy("MATRL (Algorithm 1): predicted step, meta-game Nash rho, best response", Variant()),
    "il": _on_policy("independent PPO (one trust-region step per agent)", Variant(meta_step=False)),
    "il-pp": _on_policy("MATRL with rho = 0: predicted step then best response", Variant(rho="switch")),
    "matrl-nobr": _on_policy("MATRL without the best response (the mixture is the new policy)", NO_BR),
    "il-matched": _on_policy("IL with MATRL's gradient steps (compute-matched control)", MATCHED),
    "keep": _on_policy("rho = 1 (control: the best response starts from pi)", Variant(rho="keep")),
    "placebo": _on_policy("random rho at --meta.placebo-keep-rate (control)", Variant(rho="placebo")),
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
