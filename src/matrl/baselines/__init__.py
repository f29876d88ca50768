"""Baselines the paper compares MATRL with, trained by the same harness (run directory, metrics, plots).

- `vdn`, `qmix`, `qtran`: centralised value decomposition for discrete actions (grid worlds);
- `maddpg`: centralised critics with deterministic actors for continuous actions (MaMuJoCo).

`make_learner` picks the learner a config asks for, MATRL and its ablations included.
"""

from __future__ import annotations

from typing import Any

from matrl.config import MATRL_ALGOS, VALUE_ALGOS, TrainConfig
from matrl.rollout.base import Collector


def make_learner(config: TrainConfig, collector: Collector) -> Any:
    """The learner for ``config.algo`` on ``collector``'s environment (imported only when used).

    The baselines assume agents of one action count that act at every step; agents with different action
    counts (a third-party env's `ActionSpec.counts`) are refused in one line rather than sampled out of range.
    """
    counts = getattr(collector.action_spec, "counts", ())
    if config.algo not in MATRL_ALGOS and counts:
        raise ValueError(
            f"algo={config.algo!r} is not allowed for {config.env}, whose agents have different action "
            f"counts {tuple(counts)}; expected one of {', '.join(MATRL_ALGOS)} (they mask each agent's "
            "missing actions)"
        )
    if config.algo in MATRL_ALGOS:
        from matrl.algorithm import MATRL

        return MATRL(config, collector)
    if config.algo in VALUE_ALGOS:
        from matrl.baselines.value_decomposition import make_value_learner

        return make_value_learner(config, collector)
    if config.algo == "maddpg":
        from matrl.baselines.maddpg import MADDPG

        return MADDPG(config, collector)
    raise ValueError(f"algo={config.algo!r} has no learner")
