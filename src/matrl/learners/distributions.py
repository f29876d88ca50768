"""Policy heads (categorical, Gaussian) and the MATRL policy mixture pibar = rho pi + (1 - rho) pihat.

A head turns network outputs (A, B, P) into log-probabilities, entropies and samples; the learner never looks
at the action type. Stored actions are what the head scores; `env_action` maps them to what the environment
receives (identity for discrete actions, clipping or squashing into the bounds for continuous ones).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import numpy as np
import torch
from torch import nn

from matrl.envs.spec import ActionSpec

#: How continuous actions are kept inside their bounds.
ACTION_BOUNDS: tuple[str, ...] = ("clip", "tanh")
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class PolicyHead(Protocol):
    """Distribution parameters (A, B, P) -> log-probabilities, entropies and samples, all shaped (A, B)."""

    def log_prob(self, params: torch.Tensor, actions: torch.Tensor) -> torch.Tensor: ...

    def entropy(self, params: torch.Tensor) -> torch.Tensor: ...

    def log_prob_and_entropy(
        self, params: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor: ...

    def mode(self, params: torch.Tensor) -> torch.Tensor: ...

    def total_variation(self, params_p: torch.Tensor, params_q: torch.Tensor) -> torch.Tensor: ...

    def env_action(self, actions: np.ndarray) -> np.ndarray: ...


#: Rows (samples per agent) from which the strided layout of `_over_actions` pays (measured on one core:
#: 2x slower at 16 rows, 2-7x faster from a few hundred).
STRIDED_FROM_ROWS = 64


def _over_actions(normalise: Callable[..., torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
    """``normalise`` (softmax or log-softmax) over the action axis of (A, B, K) logits, as an (A, K, B) view.

    Why: torch's CPU kernels for a short, contiguous last axis (K of 5 to 20 actions) run one row at a
    time, several times slower than over a strided axis, where they vectorise across the B rows
    (docs/benchmarks/throughput.md); a few rows (one env step of a few copies) are faster the plain way. The
    two ways agree up to float rounding.
    """
    if logits.shape[-2] < STRIDED_FROM_ROWS:
        return normalise(logits, dim=-1).transpose(-1, -2)
    return normalise(logits.transpose(-1, -2), dim=-2)


def _taken(log_probs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """The log-probabilities (A, K, B) of ``actions`` (A, B); shape (A, B)."""
    return log_probs.gather(-2, actions.long().unsqueeze(-2)).squeeze(-2)


class CategoricalHead:
    """Discrete actions: logits (A, B, K) -> log-probabilities, entropy and samples, batched over agents."""

    @staticmethod
    def log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Log-probability of ``actions`` (A, B) under ``logits`` (A, B, K); shape (A, B)."""
        return _taken(_over_actions(torch.log_softmax, logits), actions)

    @staticmethod
    def entropy(logits: torch.Tensor) -> torch.Tensor:
        """Entropy of each distribution; shape (A, B)."""
        return CategoricalHead._entropy(_over_actions(torch.log_softmax, logits))

    @staticmethod
    def log_prob_and_entropy(
        logits: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`log_prob` and `entropy` from one log-softmax (the PPO loss needs both on every minibatch)."""
        log_probs = _over_actions(torch.log_softmax, logits)
        return _taken(log_probs, actions), CategoricalHead._entropy(log_probs)

    @staticmethod
    def _entropy(log_probs: torch.Tensor) -> torch.Tensor:
        """Entropies of log-probabilities laid out (A, K, B); shape (A, B)."""
        return -(log_probs.exp() * log_probs).sum(-2)

    @staticmethod
    def sample(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One action per row, drawn with an explicit generator so that runs reproduce; shape (A, B).

        An exponential race, argmax_a p(a) / q_a with q_a ~ Exp(1): exactly what ``torch.multinomial(p, 1)``
        computes (the same draws from the generator, the same actions; tests/learners compare them), without
        its validity checks (max, min, two sums, two host syncs per call), which softmax outputs pass unless
        they are NaN: one sum checks that here. Collection draws once per env step, so this counts.
        """
        if logits.shape[-2] < STRIDED_FROM_ROWS:
            probs = torch.softmax(logits, dim=-1)
        else:
            probs = _over_actions(torch.softmax, logits).transpose(-1, -2)  # (A, B, K), strided
        if not math.isfinite(float(probs.sum())):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        # Contiguous (A, B, K) whatever the layout of probs: the generator's draws fill it in that order.
        race = torch.empty_like(logits, memory_format=torch.contiguous_format).exponential_(
            1.0, generator=generator
        )
        return torch.div(probs, race, out=race).argmax(-1)

    @staticmethod
    def mode(logits: torch.Tensor) -> torch.Tensor:
        """The most likely action, for greedy evaluation; shape (A, B)."""
        return logits.argmax(-1)

    @staticmethod
    def total_variation(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
        """Exact total variation distance 1/2 sum_a |p(a) - q(a)| of each pair of distributions; (A, B)."""
        return 0.5 * (torch.softmax(logits_p, -1) - torch.softmax(logits_q, -1)).abs().sum(-1)

    @staticmethod
    def env_action(actions: np.ndarray) -> np.ndarray:
        """Discrete actions go to the environment as they are."""
        return actions


class MaskedCategoricalHead:
    """Discrete actions where agents have different numbers of choices (`ActionSpec.counts`).

    Logits past an agent's own count are replaced by the dtype's lowest value before anything else, so those
    actions get probability exactly 0 (never sampled, never the mode), contribute 0 to the entropy and take
    no gradient.
    """

    def __init__(self, spec: ActionSpec) -> None:
        valid = spec.valid_actions
        if spec.continuous or valid is None:
            raise ValueError("MaskedCategoricalHead needs a discrete spec with per-agent action counts")
        self._valid = torch.as_tensor(valid)[:, None, :]  # (A, 1, K)

    def _masked(self, logits: torch.Tensor) -> torch.Tensor:
        low = torch.finfo(logits.dtype).min
        return torch.where(self._valid.to(logits.device), logits, torch.full_like(logits, low))

    def log_prob(self, logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return CategoricalHead.log_prob(self._masked(logits), actions)

    def entropy(self, logits: torch.Tensor) -> torch.Tensor:
        return self._entropy(_over_actions(torch.log_softmax, self._masked(logits)))

    def log_prob_and_entropy(
        self, logits: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        log_probs = _over_actions(torch.log_softmax, self._masked(logits))
        return _taken(log_probs, actions), self._entropy(log_probs)

    @staticmethod
    def _entropy(log_probs: torch.Tensor) -> torch.Tensor:
        """Entropies of log-probabilities laid out (A, K, B), where missing actions count 0 (not 0 * -inf)."""
        probs = log_probs.exp()
        return -torch.where(probs > 0, probs * log_probs, torch.zeros_like(probs)).sum(-2)

    def sample(self, logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return CategoricalHead.sample(self._masked(logits), generator)

    def mode(self, logits: torch.Tensor) -> torch.Tensor:
        return CategoricalHead.mode(self._masked(logits))

    def total_variation(self, logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
        return CategoricalHead.total_variation(self._masked(logits_p), self._masked(logits_q))

    @staticmethod
    def env_action(actions: np.ndarray) -> np.ndarray:
        return actions


class GaussianHead:
    """Continuous actions: a diagonal Gaussian per agent over (padded) action vectors.

    Distribution parameters are (A, B, 2 * dim): the means, then the log standard deviations. The networks
    make the log-std a learned per-agent vector that does not depend on the state (as the original code and
    most PPO implementations do), but the head accepts any.

    Action bounds, ``bounds``:
      * ``"clip"``: actions are unbounded Gaussian samples, stored and scored as such; only the copy sent to
        the environment is clipped (`env_action`). Log-probabilities are the plain Gaussian's, which is what
        the importance ratios of the learner need (the clipped action has a point mass at the bounds, but
        the learner never scores it).
      * ``"tanh"``: the stored action is the pre-squash sample u; the environment gets
        low + (tanh(u) + 1) / 2 * (high - low), and `log_prob` is the exact density of that squashed action
        (Gaussian log-density minus log |d a / d u|). Its entropy is reported for the pre-squash Gaussian,
        which has no closed form after squashing.

    Padding entries (``mask`` False) are sampled but contribute nothing to log-probabilities or entropies.
    """

    def __init__(self, spec: ActionSpec, bounds: str = "clip") -> None:
        if not spec.continuous:
            raise ValueError("GaussianHead needs a continuous (box) action spec")
        if bounds not in ACTION_BOUNDS:
            raise ValueError(f"bounds={bounds!r} is not allowed; expected one of {ACTION_BOUNDS}")
        self.bounds = bounds
        self.dim = spec.dim
        self.low = spec.low.astype(np.float32)[:, None, :]
        self.high = spec.high.astype(np.float32)[:, None, :]
        self._mask = torch.as_tensor(spec.mask, dtype=torch.float32)[:, None, :]
        half_range = (spec.high - spec.low).astype(np.float64) / 2.0
        self._log_half_range = torch.as_tensor(np.log(half_range), dtype=torch.float32)[:, None, :]

    def split(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(A, B, 2 * dim) -> means and log-stds, each (A, B, dim)."""
        mean, log_std = params.split(self.dim, dim=-1)
        return mean, log_std

    def log_prob(self, params: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Log-density of stored actions (A, B, dim); shape (A, B)."""
        mean, log_std = self.split(params)
        z = (actions - mean) * torch.exp(-log_std)
        per_dim = -0.5 * z.square() - log_std - _HALF_LOG_2PI
        if self.bounds == "tanh":
            # log |da/du| = log(half_range) + log(1 - tanh(u)^2), the latter written without cancellation.
            log_one_minus_tanh2 = 2.0 * (math.log(2.0) - actions - nn.functional.softplus(-2.0 * actions))
            per_dim = per_dim - self._log_half_range.to(params.device) - log_one_minus_tanh2
        return (per_dim * self._mask.to(params.device)).sum(-1)

    def log_prob_and_entropy(
        self, params: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`log_prob` and `entropy` (they share nothing worth computing once)."""
        return self.log_prob(params, actions), self.entropy(params)

    def entropy(self, params: torch.Tensor) -> torch.Tensor:
        """Entropy of the (pre-squash) Gaussian over the real action entries; shape (A, B)."""
        _, log_std = self.split(params)
        return ((log_std + 0.5 + _HALF_LOG_2PI) * self._mask.to(params.device)).sum(-1)

    def sample(self, params: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """mean + std * N(0, 1), drawn with an explicit generator; shape (A, B, dim)."""
        mean, log_std = self.split(params)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
        return mean + torch.exp(log_std) * noise

    def mode(self, params: torch.Tensor) -> torch.Tensor:
        """The most likely stored action (the mean), for greedy evaluation."""
        return self.split(params)[0]

    def total_variation(self, params_p: torch.Tensor, params_q: torch.Tensor) -> torch.Tensor:
        """An upper bound on the total variation of each pair; (A, B).

        Gaussians have no closed-form TV, so this is Pinsker's min(1, sqrt(KL(p || q) / 2)) over the real
        action entries; a tanh squash is a bijection and changes neither KL nor TV.
        """
        mean_p, log_std_p = self.split(params_p)
        mean_q, log_std_q = self.split(params_q)
        var_ratio = torch.exp(2.0 * (log_std_p - log_std_q))
        gap = (mean_p - mean_q) * torch.exp(-log_std_q)
        kl = 0.5 * (var_ratio + gap.square() - 1.0) - (log_std_p - log_std_q)
        kl = (kl * self._mask.to(params_p.device)).sum(-1)
        return torch.clamp(torch.sqrt(torch.clamp(kl, min=0.0) / 2.0), max=1.0)

    def env_action(self, actions: np.ndarray) -> np.ndarray:
        """Stored actions (E, A, dim) -> what the environment receives, inside each agent's bounds."""
        low, high = self.low.transpose(1, 0, 2), self.high.transpose(1, 0, 2)  # (1, A, dim)
        if self.bounds == "tanh":
            return low + (np.tanh(actions) + 1.0) * 0.5 * (high - low)
        return np.clip(actions, low, high)


def sample_mixture(
    head: PolicyHead,
    params_current: torch.Tensor,
    params_predicted: torch.Tensor,
    rho: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Exact draws from pibar = rho * pi + (1 - rho) * pihat: pick the component per sample, then sample it.

    ``rho`` (A,) is each agent's probability of its current policy. Works for any head.
    """
    from_current = head.sample(params_current, generator)
    from_predicted = head.sample(params_predicted, generator)
    batch = params_current.shape[:2]
    keep = torch.rand(batch, generator=generator) < rho.to(torch.float32).reshape(-1, 1)
    keep = keep.reshape(*batch, *([1] * (from_current.dim() - 2)))
    return torch.where(keep, from_current, from_predicted)


def mixture_log_prob(
    logp_current: torch.Tensor, logp_predicted: torch.Tensor, rho: torch.Tensor
) -> torch.Tensor:
    """log of the weak stable fixed point pibar = rho * pi + (1 - rho) * pihat at the taken actions.

    Exact for any distribution family (a mixture's density is the weighted sum of densities), computed in
    log space for stability. ``rho`` has shape (A,) and broadcasts over the batch axis.
    """
    rho = rho.to(logp_current.device, logp_current.dtype).reshape(-1, *([1] * (logp_current.dim() - 1)))
    with torch.no_grad():
        log_rho = torch.log(rho)
        log_one_minus_rho = torch.log1p(-rho)
    return torch.logaddexp(log_rho + logp_current, log_one_minus_rho + logp_predicted)
