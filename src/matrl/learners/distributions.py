"""Policy heads and the MATRL policy mixture, kept separate so that continuous heads can plug in later."""

from __future__ import annotations

import torch


class CategoricalHead:
    """Discrete actions: logits (A, B, K) -> log-probabilities, entropy and samples, batched over agents."""

    @staticmethod
    def log_prob(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Log-probability of ``actions`` (A, B) under ``logits`` (A, B, K); shape (A, B)."""
        log_probs = torch.log_softmax(logits, dim=-1)
        return log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    @staticmethod
    def entropy(logits: torch.Tensor) -> torch.Tensor:
        """Entropy of each distribution; shape (A, B)."""
        log_probs = torch.log_softmax(logits, dim=-1)
        return -(log_probs.exp() * log_probs).sum(-1)

    @staticmethod
    def sample(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One action per row, drawn with an explicit generator so that runs reproduce; shape (A, B)."""
        probs = torch.softmax(logits, dim=-1)
        flat = probs.reshape(-1, probs.shape[-1])
        return torch.multinomial(flat, 1, generator=generator).reshape(probs.shape[:-1])


def mixture_log_prob(
    logp_current: torch.Tensor, logp_predicted: torch.Tensor, rho: torch.Tensor
) -> torch.Tensor:
    """log of the weak stable fixed point pibar = rho * pi + (1 - rho) * pihat at the taken actions.

    Exact for any distribution family (a mixture's density is the weighted sum of densities), computed in
    log space for stability. ``rho`` has shape (A,) and broadcasts over the batch axis.
    """
    rho = rho.to(logp_current.dtype).reshape(-1, *([1] * (logp_current.dim() - 1)))
    with torch.no_grad():
        log_rho = torch.log(rho)
        log_one_minus_rho = torch.log1p(-rho)
    return torch.logaddexp(log_rho + logp_current, log_one_minus_rho + logp_predicted)
