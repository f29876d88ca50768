"""The meta-game in sample form: every agent's payoff at any (mixed) profile, for any number of agents.

The payoff table of `metagame` holds g_i(s) = mean_t [ prod_{j : s_j = 1} w_j,t * A~_i,t ] for all 2^n pure
profiles s. Mixing it with the profile rho (rho_j = probability that agent j keeps pi_j) is, by linearity of
the mean, the same mean with each agent's ratio replaced by its expected factor:

    u_i(rho) = mean_t [ prod_j (rho_j + (1 - rho_j) w_j,t) * A~_i,t ]

so the samples themselves are a complete, exact representation of the game (the multilinear extension of the
table), evaluated in O(n B) per profile and never as a table. Agent i's payoff for keeping / switching against
rho_-i uses the leave-one-out product L_i,t = prod_{j != i} (rho_j + (1 - rho_j) w_j,t), computed from prefix
and suffix products along the agent axis (no division, so a ratio near 0 costs no precision):

    keep_i = mean_t [ L_i,t A~_i,t ],   switch_i = mean_t [ L_i,t w_i,t A~_i,t ],
    d_i = keep_i - switch_i = mean_t [ L_i,t (1 - w_i,t) A~_i,t ] = du_i / drho_i.

Samples, masks, the ratio clip and centring are prepared by `metagame.prepare_samples`, exactly as for the
table: for n <= 8 both forms are the same game (tests/gametheory/test_sample_form.py checks it to 1e-12).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from matrl.gametheory.metagame import prepare_samples
from matrl.gametheory.multilinear import regrets_from_gains

Float = NDArray[np.float64]

#: Largest log of a product of ratios the form accepts: every product at every profile stays below e^700.
_MAX_LOG_PRODUCT = 700.0


def _leave_one_out(factors: Float) -> Float:
    """prod_{j != i} factors[..., j, :] for every i, by prefix and suffix products (shape of ``factors``).

    One row at a time along the agent axis (each a vectorised product over samples): about 4x faster than
    ``np.cumprod`` along that axis, and the same numbers.
    """
    n = factors.shape[-2]
    out = np.empty_like(factors)
    out[..., 0, :] = 1.0
    for j in range(1, n):
        np.multiply(out[..., j - 1, :], factors[..., j - 1, :], out=out[..., j, :])
    suffix = np.ones_like(factors[..., 0, :])
    for j in range(n - 2, -1, -1):
        suffix *= factors[..., j + 1, :]
        out[..., j, :] *= suffix
    return out


class SampleMetaGame:
    """The meta-game as its samples: each agent's share of its mean advantage and each agent's ratio.

    Profiles ``rho`` have shape ``(n,)`` or ``(m, n)`` (a batch of profiles); results have the same leading
    axes. Everything is float64 and vectorised over agents and samples.

    Attributes:
        shares: (n, B) A~_i,t / count_i: sample t's share of agent i's payoff (0 where i did not act), so that
            a payoff is a plain sum over samples. Averaging games concatenates samples with halved shares.
        ratios: (n, B) w_j,t after the ratio clip (1 where j did not act).
    """

    def __init__(self, shares: ArrayLike, ratios: ArrayLike) -> None:
        self.shares = np.asarray(shares, dtype=np.float64)
        self.ratios = np.asarray(ratios, dtype=np.float64)
        if self.shares.ndim != 2 or self.shares.shape != self.ratios.shape or self.shares.shape[0] < 1:
            raise ValueError(
                f"shares {self.shares.shape} and ratios {self.ratios.shape} must both be (agents, samples)"
            )
        if not (np.isfinite(self.shares).all() and np.isfinite(self.ratios).all()) or (self.ratios < 0).any():
            raise ValueError("the sample form needs finite advantages and finite, non-negative ratios")
        with np.errstate(divide="ignore"):
            log_product = np.maximum(np.log(self.ratios), 0.0).sum(axis=0)
        if log_product.size and log_product.max() > _MAX_LOG_PRODUCT:
            raise ValueError(
                f"a product of the agents' ratios reaches e^{log_product.max():.0f} and overflows; clip the "
                "ratios (meta_ratio_clip)"
            )
        self._switch_shares = self.ratios * self.shares  # w_i,t A~_i,t / count_i
        self._gain_shares = self.shares - self._switch_shares  # (1 - w_i,t) A~_i,t / count_i

    @classmethod
    def from_samples(
        cls,
        advantages: ArrayLike,
        log_ratios: ArrayLike,
        ratio_clip: float | None = None,
        mask: ArrayLike | None = None,
    ) -> SampleMetaGame:
        """The game of the arguments of `metagame.estimate_meta_game` (same checks, same preprocessing)."""
        centred, log_w, counts = prepare_samples(advantages, log_ratios, ratio_clip, mask)
        return cls(centred / counts[:, None], np.exp(log_w))

    @classmethod
    def mean_of(cls, games: Sequence[SampleMetaGame]) -> SampleMetaGame:
        """The game whose payoff function is the mean of the games' (the cross-fitted estimator's average).

        Concatenating the samples with each game's shares divided by the number of games gives exactly
        u(rho) = mean_k u_k(rho): the multilinear extension of the averaged payoff tables.
        """
        if not games or len({g.n_agents for g in games}) != 1:
            raise ValueError("mean_of needs at least one game, all with the same number of agents")
        k = float(len(games))
        return cls(
            np.concatenate([g.shares / k for g in games], axis=1),
            np.concatenate([g.ratios for g in games], axis=1),
        )

    @property
    def n_agents(self) -> int:
        return int(self.shares.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.shares.shape[1])

    def _profile(self, rho: ArrayLike) -> Float:
        p = np.asarray(rho, dtype=np.float64)
        if p.ndim not in (1, 2) or p.shape[-1] != self.n_agents:
            raise ValueError(f"rho of shape {p.shape} is not (n,) or (m, n) with n = {self.n_agents}")
        return p

    def leave_one_out(self, rho: ArrayLike) -> Float:
        """L_i,t = prod_{j != i} (rho_j + (1 - rho_j) w_j,t), shape ``(..., n, B)``."""
        p = self._profile(rho)[..., :, None]
        return _leave_one_out(p + (1.0 - p) * self.ratios)

    def action_values(self, rho: ArrayLike) -> Float:
        """``(..., n, 2)``: agent i's payoff for keeping (0) and switching (1) while the others mix by rho."""
        loo = self.leave_one_out(rho)
        keep = (loo * self.shares).sum(axis=-1)
        switch = (loo * self._switch_shares).sum(axis=-1)
        return np.stack([keep, switch], axis=-1)

    def gains(self, rho: ArrayLike) -> Float:
        """``(..., n)``: d_i = keep_i - switch_i = du_i / drho_i, summed directly (no cancellation)."""
        return (self.leave_one_out(rho) * self._gain_shares).sum(axis=-1)

    def payoffs(self, rho: ArrayLike) -> Float:
        """``(..., n)``: u_i(rho), the multilinear extension of the payoff table."""
        p = self._profile(rho)
        values = self.action_values(p)
        return p * values[..., 0] + (1.0 - p) * values[..., 1]

    def regrets(self, rho: ArrayLike) -> Float:
        """``(..., n)``: what each agent gains by its best pure action, (1 - rho_i) max(d_i, 0) + rho_i
        max(-d_i, 0); exact at every profile (the same formula the table solvers use)."""
        p = self._profile(rho)
        return regrets_from_gains(self.gains(p), p)

    def nash_conv(self, rho: ArrayLike) -> Float:
        """Sum of the regrets: zero exactly at a Nash equilibrium."""
        return self.regrets(rho).sum(axis=-1)

    def gain_jacobian(self, rho: ArrayLike, agents: ArrayLike | None = None) -> Float:
        """(n, n): dd_i / drho_k at one profile (zero diagonal: d_i does not depend on rho_i); with
        ``agents``, only their rows and columns (k, k).

        d_i is linear in rho_k with slope mean_t [ prod_{j != i, k} (...) (1 - w_k,t) (1 - w_i,t) A~_i,t ]:
        one (n, B) x (B, n) product of the leave-one-out terms with (1 - w_k,t) / factor_k,t. Newton needs it
        only roughly (every answer is verified by exact regrets), so the division is fine here.
        """
        p = self._profile(rho)
        if p.ndim != 1:
            raise ValueError("gain_jacobian takes one profile of shape (n,)")
        factors = p[:, None] + (1.0 - p[:, None]) * self.ratios
        loo = _leave_one_out(factors)
        rows = slice(None) if agents is None else np.asarray(agents, dtype=np.intp)
        tiny = np.finfo(np.float64).tiny
        slopes = (1.0 - self.ratios[rows]) / np.maximum(factors[rows], tiny)
        jac = (loo[rows] * self._gain_shares[rows]) @ slopes.T
        np.fill_diagonal(jac, 0.0)
        return np.asarray(jac, dtype=np.float64)

    def restricted(self, rho: ArrayLike, agents: Sequence[int]) -> SampleMetaGame:
        """The game of ``agents`` alone while every other agent j mixes by ``rho[j]`` (fixed): each sample's
        shares take the others' factors prod_{j not in agents} (rho_j + (1 - rho_j) w_j,t) (no division)."""
        p = self._profile(rho)
        if p.ndim != 1:
            raise ValueError("restricted takes one profile of shape (n,)")
        keep = np.zeros(self.n_agents, dtype=np.bool_)
        keep[list(agents)] = True
        others = p[~keep, None]
        weight = np.prod(others + (1.0 - others) * self.ratios[~keep], axis=0)
        return SampleMetaGame(self.shares[keep] * weight, self.ratios[keep])

    def table(self) -> Float:
        """The payoff tensor (n, 2, ..., 2) of this game (the same as `metagame.estimate_meta_game` of the
        same samples, to rounding); 2^n evaluations, so for n <= 16 only."""
        n = self.n_agents
        if n > 16:
            raise ValueError(f"a payoff table of {n} agents has 2^{n} entries per agent; at most 16 here")
        switch = np.indices((2,) * n).reshape(n, -1).T.astype(np.float64)  # C order, 1 = switch
        chunk = max(1, 2_000_000 // (n * max(self.num_samples, 1)))  # bounded memory: chunks of profiles
        values = np.concatenate([self.payoffs(1.0 - switch[k : k + chunk]) for k in range(0, 2**n, chunk)])
        return np.asarray(values.T.reshape((n,) + (2,) * n), dtype=np.float64)

    def own_gains(self) -> Float:
        """(n,) u_i(switch_i, keep_-i): agent i's payoff when it alone switches (the table's g_i(e_i))."""
        return np.asarray(self._switch_shares.sum(axis=-1), dtype=np.float64)

    def payoff_scale(self) -> float:
        """The unit of relative tolerances: the largest |payoff| at the 2n + 2 pure profiles next to all-keep
        and all-switch (both of them, each agent alone switching, each agent alone keeping).

        It is a lower bound on the table's scale (its largest |payoff| over all 2^n profiles), so a profile
        that verifies here at ``rtol`` also verifies in the table at ``rtol`` (n <= 8); it costs two
        evaluations, where the table's needs 2^n.
        """
        all_switch = _leave_one_out(self.ratios)  # at all-keep every factor is 1: plain sums
        values = [self.shares.sum(axis=-1), self._switch_shares.sum(axis=-1)]
        values += [(all_switch * self.shares).sum(axis=-1), (all_switch * self._switch_shares).sum(axis=-1)]
        return float(np.abs(np.concatenate(values)).max(initial=0.0))
