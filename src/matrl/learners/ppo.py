"""PPO losses as pure functions of tensors shaped (A, B): one row per agent, reduced to one value per agent.

Agents' parameters are disjoint, so summing these per-agent losses before ``backward`` gives each agent
exactly the gradient of its own loss.

``mask`` (A, B), where given, marks the samples at which each agent acted (agents that leave or join an
episode): the means run over those samples only, so the others contribute nothing, gradients included.
"""

from __future__ import annotations

import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over the last axis, of the samples where ``mask`` is 1 (all without a mask); 0 where none is."""
    if mask is None:
        return values.mean(-1)
    kept = torch.where(mask > 0, values, torch.zeros_like(values))  # where, not *: padding may hold inf
    return kept.sum(-1) / mask.sum(-1).clamp(min=1.0)


def clipped_surrogate_loss(
    logp: torch.Tensor,
    logp_behaviour: torch.Tensor,
    advantages: torch.Tensor,
    clip_ratio: float,
    sample_weights: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Negative PPO clipped surrogate, mean over the batch; shape (A,).

    ``sample_weights`` are extra per-sample importance weights (MATRL's best response uses the others'
    truncated ratios pibar_j / pi_j there); they multiply the clipped objective of each sample.
    """
    ratio = torch.exp(logp - logp_behaviour)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip_ratio, 1.0 + clip_ratio) * advantages
    objective = torch.minimum(unclipped, clipped)
    if sample_weights is not None:
        objective = objective * sample_weights
    return -masked_mean(objective, mask)


def value_loss(
    values: torch.Tensor,
    returns: torch.Tensor,
    values_behaviour: torch.Tensor | None = None,
    clip: float | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Squared error to the returns, optionally PPO-clipped around the behaviour values; shape (A,)."""
    error = (values - returns) ** 2
    if clip is not None and values_behaviour is not None:
        clipped_values = values_behaviour + torch.clamp(values - values_behaviour, -clip, clip)
        error = torch.maximum(error, (clipped_values - returns) ** 2)
    return 0.5 * masked_mean(error, mask)


def approx_kl(
    logp: torch.Tensor, logp_behaviour: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Low-variance estimate of KL(behaviour || current): mean of (r - 1) - log r; shape (A,), >= 0."""
    log_ratio = logp - logp_behaviour
    return masked_mean(torch.expm1(log_ratio) - log_ratio, mask)


def clip_fraction(
    logp: torch.Tensor, logp_behaviour: torch.Tensor, clip_ratio: float, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Share of samples whose ratio left [1 - clip, 1 + clip]; shape (A,)."""
    ratio = torch.exp(logp - logp_behaviour)
    return masked_mean(((ratio - 1.0).abs() > clip_ratio).to(logp.dtype), mask)


def explained_variance(values: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """1 - Var(returns - values) / Var(returns) per agent; NaN where the returns do not vary."""
    var_returns = returns.var(-1, unbiased=False)
    ev = 1.0 - (returns - values).var(-1, unbiased=False) / var_returns
    return torch.where(var_returns > 0, ev, torch.full_like(ev, float("nan")))


def normalize_advantages(
    advantages: torch.Tensor, eps: float = 1e-8, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-agent standardisation over the batch (mean 0, std 1); with ``mask``, over the masked samples,
    and the others are set to 0."""
    if mask is None:
        mean = advantages.mean(-1, keepdim=True)
        std = advantages.std(-1, unbiased=False, keepdim=True)
        return (advantages - mean) / (std + eps)
    mean = masked_mean(advantages, mask).unsqueeze(-1)
    std = masked_mean((advantages - mean).square(), mask).sqrt().unsqueeze(-1)
    return torch.where(mask > 0, (advantages - mean) / (std + eps), torch.zeros_like(advantages))
