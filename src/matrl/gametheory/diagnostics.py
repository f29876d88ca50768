"""What a meta-game says about itself: why rho is what it is, and how loose the paper's guarantees are.

These read a payoff tensor ``g`` of shape (n, 2, ..., 2) (action 0 = keep pi_i, 1 = switch to pihat_i, as in
`matrl.gametheory.metagame`) and answer the questions an honest study of the trust stable region asks:

- ``own_switch_payoffs``: g_i when only agent i switches (its own gain from its predicted step);
- ``dominant_actions``: whether each agent has a strictly dominant meta-action (then rho is pure and the
  equilibrium is unique: the game cannot do more than accept or reject each step);
- ``cross_effect_ratios``: how much the others' switching changes agent i's own gain, relative to that gain
  (small ratios mean the agents' steps barely interact, so the game decouples into n one-player choices);
- ``trust_region_bounds``: Theorem 1's lower bound on the improvement of (pihat_i, pihat_-i) and Remark 1's
  for (pibar_i, pibar_-i), from alpha (max total variation of each step) and epsilon (max |A_i|).

``own_switch_payoffs`` and ``trust_region_bounds`` also read the sample form (`sample_form.SampleMetaGame`,
any n); dominance and cross effects range over all 2^(n-1) profiles of the others and need the table.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from matrl.gametheory.games import as_game, expected_payoffs, num_players
from matrl.gametheory.sample_form import SampleMetaGame

Float = NDArray[np.float64]


def _own_slices(game: Float, i: int) -> tuple[Float, Float]:
    """g_i with agent i keeping / switching, over every profile of the others (flattened)."""
    table = game[i]
    return np.take(table, 0, axis=i).ravel(), np.take(table, 1, axis=i).ravel()


def own_switch_payoffs(payoffs: ArrayLike | SampleMetaGame) -> Float:
    """(n,) g_i(e_i): agent i's payoff when it alone switches to its predicted policy (table or samples)."""
    if isinstance(payoffs, SampleMetaGame):
        return payoffs.own_gains()
    game = as_game(payoffs)
    n = num_players(game)
    return np.array([game[(i, *(1 if j == i else 0 for j in range(n)))] for i in range(n)])


def dominant_actions(payoffs: ArrayLike) -> NDArray[np.int64]:
    """(n,) each agent's strictly dominant meta-action: 0 (keep), 1 (switch), or -1 where it has none."""
    game = as_game(payoffs)
    n = num_players(game)
    out = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        keep, switch = _own_slices(game, i)
        if np.all(switch > keep):
            out[i] = 1
        elif np.all(keep > switch):
            out[i] = 0
    return out


def cross_effect_ratios(payoffs: ArrayLike) -> Float:
    """(n,) max over the others' profiles of |change of agent i's own gain| / |own gain with others kept|.

    Agent i's own gain at the others' profile s_-i is g_i(1, s_-i) - g_i(0, s_-i); the ratio compares its
    largest change across s_-i with its value at s_-i = all keep. NaN where that own gain is exactly 0.
    """
    game = as_game(payoffs)
    n = num_players(game)
    out = np.empty(n)
    for i in range(n):
        keep, switch = _own_slices(game, i)
        gains = switch - keep  # index 0: every other agent keeps
        base = abs(gains[0])
        out[i] = np.abs(gains - gains[0]).max() / base if base > 0 else np.nan
    return out


def combined_step(alpha: ArrayLike) -> Float:
    """(n,) alpha_i + alpha_-i - alpha_i alpha_-i = 1 - prod_j (1 - alpha_j): the chance that any agent's
    action differs between the coupled joint policies (paper Lemma 1, with alpha_-i = 1 - prod_{j!=i}(1 -
    alpha_j) for n agents). The same for every i."""
    a = np.clip(np.asarray(alpha, dtype=np.float64), 0.0, 1.0)
    return np.full(a.shape, 1.0 - np.prod(1.0 - a))


def trust_region_bounds(
    payoffs: ArrayLike | SampleMetaGame, rho: ArrayLike, alpha: ArrayLike, epsilon: ArrayLike, gamma: float
) -> tuple[Float, Float]:
    """Theorem 1 (Eq. 4) and Remark 1 (Eq. 31) lower bounds on each agent's improvement, shape (n,) each.

    Theorem 1 bounds the move to (pihat_i, pihat_-i): g_i(all switch) - 4 gamma eps_i / (1 - gamma)^2 *
    (1 - prod_j (1 - alpha_j))^2. Remark 1 bounds the move to the mixture: the payoff g_i(rho) minus the same
    penalty with each alpha_j scaled by (1 - rho_j), the probability that pibar_j plays pihat_j. ``payoffs``
    is the table or the sample form (both payoffs it needs cost O(n B) there).
    """
    keep = np.asarray(rho, dtype=np.float64)
    if isinstance(payoffs, SampleMetaGame):
        n = payoffs.n_agents
        all_switch = payoffs.payoffs(np.zeros(n))
        at_rho = payoffs.payoffs(keep)
    else:
        game = as_game(payoffs)
        n = num_players(game)
        all_switch = game.reshape(n, -1)[:, -1]  # the last entry of each agent's table: every agent switches
        at_rho = expected_payoffs(game, keep)
    a = np.asarray(alpha, dtype=np.float64)
    eps = np.asarray(epsilon, dtype=np.float64)
    scale = 4.0 * gamma * eps / (1.0 - gamma) ** 2 if gamma < 1 else np.full(n, np.inf)
    tpr = all_switch - scale * combined_step(a) ** 2
    tsr = at_rho - scale * combined_step(a * (1.0 - keep)) ** 2
    return tpr, tsr
