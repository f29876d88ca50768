"""MATRL's meta-game (paper Eq. 3 and 5), estimated from the trajectories already collected.

Each agent i picks action 0 (keep the current policy pi_i) or 1 (switch to the predicted policy pihat_i).
The payoff of agent i at profile s is the expected advantage of the joint policy s under the current
policies' state distribution, estimated by importance weighting the same samples:

    g_i(s) = mean_t [ prod_{j : s_j = 1} w_j,t * (A_i,t - mean(A_i)) ]
    w_j,t = pihat_j(a_j,t | o_j,t) / pi_j(a_j,t | o_j,t)

The mean of the product is used, not the product of means (the original code's bug, see docs). Centring the
advantages is a baseline: it keeps the estimate consistent (E[prod w] = 1 and E_pi[A] = 0) and makes the
all-current entry exactly 0, as the paper requires. No extra rollouts are needed.

With agents that leave or join (``mask``), agent i's payoff averages over the samples where i acted, its
advantages are centred over those, and an agent j that did not act at a sample takes no action there, so its
ratio counts as 1 in the product.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray


def profile_bits(num_agents: int) -> NDArray[np.float64]:
    """All 2^n profiles as rows of 0/1 (1 = predicted), in the C order of a (2,)*n payoff tensor."""
    return np.indices((2,) * num_agents).reshape(num_agents, -1).T.astype(np.float64)


class PreparedSamples(NamedTuple):
    """The meta-game's samples after masking, the finiteness check, the ratio clip and centring.

    Attributes:
        centred: (n, B) A~_i,t: agent i's advantage minus its mean over the samples where it acted; 0 where it
            did not act.
        log_ratios: (n, B) log w_j,t, clipped; 0 (w = 1) where j did not act.
        counts: (n,) how many samples agent i acted at (at least 1): its payoff is a mean over those.
    """

    centred: NDArray[np.float64]
    log_ratios: NDArray[np.float64]
    counts: NDArray[np.float64]


def prepare_samples(
    advantages: ArrayLike,
    log_ratios: ArrayLike,
    ratio_clip: float | None = None,
    mask: ArrayLike | None = None,
) -> PreparedSamples:
    """What both forms of the meta-game (this payoff table, `sample_form`) are built from.

    Args:
        advantages: (n, B) advantage of each agent at each joint sample (same B samples for every agent).
        log_ratios: (n, B) log pihat_j(a_j|o_j) - log pi_j(a_j|o_j) of each agent's taken action.
        ratio_clip: truncate each w_j to [1 - c, 1 + c] (the paper's meta-game ratio clip), or None.
        mask: (n, B) whether each agent acted at each sample; None: all did. Samples where an agent did not
            act may hold anything (NaN included): they are not read.
    """
    adv = np.asarray(advantages, dtype=np.float64)
    log_w = np.asarray(log_ratios, dtype=np.float64)
    if adv.ndim != 2 or adv.shape != log_w.shape:
        raise ValueError(
            f"advantages {adv.shape} and log_ratios {log_w.shape} must both be (agents, samples)"
        )
    acted = None if mask is None else np.asarray(mask, dtype=np.bool_)
    if acted is not None:
        if acted.shape != adv.shape:
            raise ValueError(f"mask {acted.shape} must have the shape of advantages {adv.shape}")
        adv, log_w = np.where(acted, adv, 0.0), np.where(acted, log_w, 0.0)  # w_j = 1 where j did not act
    if not (np.all(np.isfinite(adv)) and np.all(np.isfinite(log_w))):
        raise ValueError("advantages or log_ratios contain NaN or inf; the meta-game needs finite samples")
    if ratio_clip is not None:
        if not 0.0 < ratio_clip < 1.0:
            raise ValueError(f"ratio_clip={ratio_clip} must lie in (0, 1)")
        log_w = np.clip(log_w, np.log1p(-ratio_clip), np.log1p(ratio_clip))
    num_agents, num_samples = adv.shape
    if acted is None:
        centred = adv - adv.mean(axis=1, keepdims=True)
        counts = np.full(num_agents, float(num_samples))
    else:
        counts = np.maximum(acted.sum(axis=1), 1).astype(np.float64)
        centred = np.where(acted, adv - (adv.sum(axis=1) / counts)[:, None], 0.0)
    return PreparedSamples(centred, log_w, counts)


def estimate_meta_game(
    advantages: ArrayLike,
    log_ratios: ArrayLike,
    ratio_clip: float | None = None,
    mask: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Payoff tensor of the meta-game, shape (n, 2, ..., 2), from per-sample advantages and log-ratios.

    The arguments are those of `prepare_samples`. The table has 2^n entries per agent: for more agents use
    `matrl.gametheory.sample_form.SampleMetaGame`, which evaluates the same payoffs at any profile.
    """
    centred, log_w, counts = prepare_samples(advantages, log_ratios, ratio_clip, mask)
    num_agents = centred.shape[0]
    bits = profile_bits(num_agents)  # (2^n, n)
    joint_weights = np.exp(bits @ log_w)  # (2^n, B): product of the switched agents' ratios
    payoffs = joint_weights @ centred.T / counts  # (2^n, n)
    payoffs[0] = 0.0  # all-current: exactly zero by construction (centred advantages, empty product)
    return payoffs.T.reshape((num_agents,) + (2,) * num_agents)
