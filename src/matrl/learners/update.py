"""The PPO optimisation loop shared by MATRL's predicted step and its best response.

Both steps minimise the same per-agent loss on the same batch; the best response only adds per-sample
importance weights (the other agents' truncated pibar_j / pi_j). Agents' parameters are disjoint and carry a
leading agent axis, so one backward pass over the summed per-agent losses updates every agent with exactly
its own gradient; early stopping freezes agents one by one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from matrl.learners import ppo
from matrl.learners.actor_critic import ActorCritic


def adam(params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    """The learner's Adam: the ``fused`` step, one kernel per parameter tensor that updates the weight and
    both moments in one pass (on the CPU about 2.4x faster than the multi-tensor ``foreach`` step, which
    loops over elementwise ops; measured in docs/benchmarks/throughput.md). It rounds differently from the
    per-tensor loop (within 1e-6 relative, tests/learners check it) but is deterministic, so resumed runs stay
    bit-identical. A checkpoint's optimiser state keeps the flag it was saved with (older ones: ``foreach``
    or the per-tensor loop, and their numbers)."""
    return torch.optim.Adam(params, lr=lr, fused=True)


@dataclass(frozen=True)
class Samples:
    """One batch in the learner's layout: every tensor (A, B), observations (A, B, obs_dim)."""

    obs: torch.Tensor
    """(A, B, obs_dim) in the env's dtype (float32, or uint8 pixels that the CNN scales)."""
    actions: torch.Tensor
    logp: torch.Tensor
    """log pi(a|o) of the behaviour (current) policy, recomputed on this batch layout."""
    values: torch.Tensor
    """V(o) of the behaviour value function."""
    advantages: torch.Tensor
    """GAE advantages (standardised per agent when configured)."""
    returns: torch.Tensor
    """Value targets (lambda-returns)."""
    active: torch.Tensor | None = None
    """(A, B) 1.0 where the agent acted, 0.0 where it had left (or not yet joined) its episode; those samples
    are left out of every loss term. None: every agent acted at every sample."""


@dataclass(frozen=True)
class LossWeights:
    """Coefficients and clips of the per-agent PPO loss."""

    clip_ratio: float
    value_coef: float
    entropy_coef: float
    kl_coef: float
    value_clip: float | None
    policy_coef: float = 1.0


@dataclass(frozen=True)
class UpdateStats:
    """Diagnostics of one update, per agent, measured on the whole batch after the last step."""

    approx_kl: torch.Tensor
    clip_fraction: torch.Tensor
    entropy: torch.Tensor
    policy_loss: torch.Tensor
    value_loss: torch.Tensor
    steps: torch.Tensor
    """Gradient steps each agent actually took (fewer than asked after a KL early stop)."""


def agent_losses(
    net: ActorCritic,
    batch: Samples,
    weights: LossWeights,
    index: torch.Tensor | slice | None = None,
    sample_weights: torch.Tensor | None = None,
    clip_fraction: bool = True,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total loss per agent (A,) on the batch (or the minibatch ``index``, indices or a slice), and its
    parts; ``clip_fraction=False`` leaves out that diagnostic (not part of the loss; the gradient steps skip
    it and report it from the final pass only)."""
    obs, actions, logp_old = batch.obs, batch.actions, batch.logp
    adv, ret, v_old, mask = batch.advantages, batch.returns, batch.values, batch.active
    if index is not None:
        obs, actions, logp_old = obs[:, index], actions[:, index], logp_old[:, index]
        adv, ret, v_old = adv[:, index], ret[:, index], v_old[:, index]
        if sample_weights is not None:
            sample_weights = sample_weights[:, index]
        if mask is not None:
            mask = mask[:, index]
    logp, entropy, values = net.evaluate(obs, actions)
    policy_loss = ppo.clipped_surrogate_loss(logp, logp_old, adv, weights.clip_ratio, sample_weights, mask)
    v_loss = ppo.value_loss(values, ret, v_old, weights.value_clip, mask)
    kl = ppo.approx_kl(logp, logp_old, mask)
    mean_entropy = ppo.masked_mean(entropy, mask)
    total = (
        weights.policy_coef * policy_loss
        + weights.value_coef * v_loss
        - weights.entropy_coef * mean_entropy
        + weights.kl_coef * kl
    )
    parts = {"policy_loss": policy_loss, "value_loss": v_loss, "approx_kl": kl, "entropy": mean_entropy}
    if clip_fraction:
        parts["clip_fraction"] = ppo.clip_fraction(logp.detach(), logp_old, weights.clip_ratio, mask)
    return total, parts


def ppo_update(
    net: ActorCritic,
    optimizer: torch.optim.Optimizer,
    batch: Samples,
    weights: LossWeights,
    epochs: int,
    minibatches: int = 1,
    sample_weights: torch.Tensor | None = None,
    target_kl: float | None = None,
    max_grad_norm: float | None = None,
    generator: torch.Generator | None = None,
    phase: str = "update",
    grad_chunk: int | None = None,
) -> UpdateStats:
    """``epochs`` passes over the batch in ``minibatches`` gradient steps each.

    An agent whose approximate KL to the behaviour policy (measured before a step) exceeds 1.5x ``target_kl``
    takes no further steps: its parameters and Adam moments are held where they were.

    ``grad_chunk``: a larger minibatch is evaluated in pieces of at most that many samples whose gradients
    add up to the minibatch's (every loss term is a per-sample mean, so a piece counts with its share of the
    minibatch); only one piece's activations are held at a time. Same step up to rounding; None or a chunk
    at least as large as the minibatch takes the single-pass path.

    Raises:
        FloatingPointError: a loss became NaN or infinite (names the phase and the agent).
    """
    num_agents, size = batch.actions.shape[:2]
    device = batch.advantages.device  # the learner's device; the shuffling generator stays on the CPU
    active = torch.ones(num_agents, dtype=torch.bool, device=device)
    steps = torch.zeros(num_agents, dtype=torch.long, device=device)
    frozen_state: list[tuple[torch.Tensor, ...]] | None = None
    for _ in range(epochs):
        epoch_batch, epoch_weights = batch, sample_weights
        if minibatches > 1:
            # One gather per tensor and epoch; each minibatch is then a slice, a view (no copy).
            order = torch.randperm(size, generator=generator)
            epoch_batch, epoch_weights = _shuffled(batch, sample_weights, order)
        for chunk in range(minibatches):
            index = (
                None
                if minibatches == 1
                else slice(chunk * size // minibatches, (chunk + 1) * size // minibatches)
            )
            chunked = grad_chunk is not None and (size if index is None else _length(index)) > grad_chunk
            if chunked:
                assert grad_chunk is not None
                loss, parts = _accumulate_gradients(
                    net, optimizer, epoch_batch, weights, index, epoch_weights, grad_chunk
                )
            else:
                loss, parts = agent_losses(
                    net, epoch_batch, weights, index, epoch_weights, clip_fraction=False
                )
            if not torch.isfinite(loss).all():
                bad = int(torch.nonzero(~torch.isfinite(loss))[0, 0])
                raise FloatingPointError(
                    f"{phase} loss of agent {bad} is {loss[bad].item()}; lower the learning rate or check "
                    "the rewards and observations for NaN"
                )
            if target_kl is not None:
                newly_stopped = active & (parts["approx_kl"].detach() > 1.5 * target_kl)
                if newly_stopped.any():
                    active &= ~newly_stopped
                    frozen_state = _snapshot(net, optimizer)
                if not active.any():
                    return _stats(net, batch, weights, sample_weights, steps)
            if chunked:
                _mask_gradients(net, active)
            else:
                optimizer.zero_grad(set_to_none=True)
                (loss * active).sum().backward()
            if max_grad_norm is not None:
                _clip_per_agent(net, max_grad_norm)
            optimizer.step()
            steps += active.long()
            if frozen_state is not None and not active.all():
                _restore(net, optimizer, frozen_state, ~active)
    return _stats(net, batch, weights, sample_weights, steps)


def _shuffled(
    batch: Samples, sample_weights: torch.Tensor | None, order: torch.Tensor
) -> tuple[Samples, torch.Tensor | None]:
    """The batch (and the sample weights) with its samples in ``order``."""
    shuffled = Samples(
        obs=batch.obs[:, order],
        actions=batch.actions[:, order],
        logp=batch.logp[:, order],
        values=batch.values[:, order],
        advantages=batch.advantages[:, order],
        returns=batch.returns[:, order],
        active=None if batch.active is None else batch.active[:, order],
    )
    return shuffled, None if sample_weights is None else sample_weights[:, order]


def _length(index: slice) -> int:
    return int(index.stop) - int(index.start)


def _accumulate_gradients(
    net: ActorCritic,
    optimizer: torch.optim.Optimizer,
    batch: Samples,
    weights: LossWeights,
    index: slice | None,
    sample_weights: torch.Tensor | None,
    chunk: int,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Gradients of every agent's minibatch loss left in ``.grad``, summed over pieces of ``chunk`` samples;
    returns the loss and its parts as the single-pass `agent_losses` would (up to rounding). With an active
    mask a piece counts, per agent, with its share of the agent's active samples."""
    first = 0 if index is None else int(index.start)
    size = batch.actions.shape[1] if index is None else _length(index)
    active = None
    if batch.active is not None:
        active = batch.active if index is None else batch.active[:, index]
        active_total = active.sum(-1).clamp(min=1.0)
    optimizer.zero_grad(set_to_none=True)
    loss = torch.zeros((), device=batch.advantages.device)
    parts: dict[str, torch.Tensor] = {}
    for start in range(0, size, chunk):
        stop = min(start + chunk, size)
        piece = slice(first + start, first + stop)
        piece_loss, piece_parts = agent_losses(net, batch, weights, piece, sample_weights)
        share: float | torch.Tensor = (stop - start) / size
        if active is not None:
            share = active[:, start:stop].sum(-1) / active_total
        (piece_loss * share).sum().backward()
        loss = loss + piece_loss.detach() * share
        for key, value in piece_parts.items():
            weighted = value.detach() * share
            parts[key] = parts[key] + weighted if key in parts else weighted
    return loss, parts


@torch.no_grad()
def _mask_gradients(net: ActorCritic, active: torch.Tensor) -> None:
    """Zero the gradients of agents that stopped (what ``(loss * active).sum().backward()`` gives them)."""
    for p in net.parameters():
        if p.grad is not None:
            p.grad[~active] = 0.0


@torch.no_grad()
def _stats(
    net: ActorCritic,
    batch: Samples,
    weights: LossWeights,
    sample_weights: torch.Tensor | None,
    steps: torch.Tensor,
) -> UpdateStats:
    _, parts = agent_losses(net, batch, weights, None, sample_weights)
    return UpdateStats(
        approx_kl=parts["approx_kl"],
        clip_fraction=parts["clip_fraction"],
        entropy=parts["entropy"],
        policy_loss=parts["policy_loss"],
        value_loss=parts["value_loss"],
        steps=steps,
    )


def _clip_per_agent(net: ActorCritic, max_norm: float) -> None:
    """Scale each agent's whole gradient to norm <= max_norm (a global norm would couple the agents)."""
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    squared = torch.stack([g.reshape(g.shape[0], -1).pow(2).sum(-1) for g in grads]).sum(0)
    scale = torch.clamp(max_norm / (squared.sqrt() + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale.reshape(-1, *([1] * (g.dim() - 1))))


def _snapshot(net: ActorCritic, optimizer: torch.optim.Optimizer) -> list[tuple[torch.Tensor, ...]]:
    """Copies of every parameter and its Adam moments (agent axis first)."""
    saved = []
    for p in net.parameters():
        state = optimizer.state.get(p, {})
        moments = tuple(state[k].clone() for k in ("exp_avg", "exp_avg_sq") if k in state)
        saved.append((p.detach().clone(), *moments))
    return saved


@torch.no_grad()
def _restore(
    net: ActorCritic,
    optimizer: torch.optim.Optimizer,
    saved: list[tuple[torch.Tensor, ...]],
    agents: torch.Tensor,
) -> None:
    for p, (value, *moments) in zip(net.parameters(), saved, strict=True):
        p[agents] = value[agents]
        state = optimizer.state.get(p, {})
        for key, moment in zip(("exp_avg", "exp_avg_sq"), moments, strict=False):
            state[key][agents] = moment[agents]
