"""Algorithm 1 of the paper (PPO form: Algorithm 2), one `MATRL.iteration` at a time.

    1. collect trajectories with the current policies pi_i                          `collect`
    2. predicted policy pihat_i: a PPO step of each agent against pi_-i (Eq. 2)      `predict`
    3. meta-game: each agent keeps pi_i or switches to pihat_i; payoffs = expected
       advantages (Eq. 3) importance-weighted from the same batch (or held out)     `meta_game`
    4. a Nash equilibrium rho of the meta-game                                        `solve`
    5. weak stable fixed point pibar_i = rho_i pi_i + (1 - rho_i) pihat_i             `fixed_point`
    6. best response of each agent to pibar_-i (Eq. 6), from pihat_i (or the mixed
       weights), on the same batch with truncated weights
       prod_{j != i} clip(pibar_j / pi_j, 1 -+ c)                                    `best_response`

The ablations follow the same path and skip steps: ``il`` stops after step 2 (pi <- pihat); ``il-pp``
skips 3-4 with rho = 0 (respond to the predicted policies); ``matrl-nobr`` stops after step 5 and moves to
pibar itself, as parameters (one network cannot hold a mixture of two). The controls of the trust stable
region study fix rho instead of solving for it: ``il-matched`` (rho = 1 and the BR from pihat: IL with
MATRL's gradient steps), ``keep`` (rho = 1) and ``placebo`` (rho_i = 1 at random).

Mixture modes (step 5): ``policy`` (the paper) mixes action distributions, so pibar's log-probabilities are
exact; ``params`` (the original code) interpolates network weights. ``meta.br_start`` picks where the best
response starts in ``policy`` mode: pihat (whatever rho is) or the interpolated weights, as ``params`` does.
Meta-game estimators (step 3, ``meta.estimator``): ``in_sample`` (the paper), ``crossfit``, ``fresh``; its
form (``meta.form``): the 2^n payoff table (up to 8 agents) or the samples it is made of (any n).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from matrl.algos import Variant, algo_spec
from matrl.config import TrainConfig
from matrl.envs.spec import ActionSpec
from matrl.gametheory import diagnostics as diag
from matrl.gametheory.forms import mean_game, resolve_form
from matrl.gametheory.metagame import estimate_meta_game
from matrl.gametheory.sample_form import SampleMetaGame
from matrl.gametheory.solver import SolverStats, solve
from matrl.learners.actor_critic import ActorCritic, interpolate_parameters
from matrl.learners.conv import ConvTorso
from matrl.learners.device import resolve_device
from matrl.learners.distributions import mixture_log_prob
from matrl.learners.gae import gae
from matrl.learners.ppo import explained_variance, normalize_advantages
from matrl.learners.protocol import IterationResult, episode_columns, jsonable, seed_everything
from matrl.learners.update import LossWeights, Samples, UpdateStats, adam, ppo_update
from matrl.rollout.base import Batch, Collector
from matrl.rollout.policy import NetworkPolicy

#: A meta-game: the payoff table (n, 2, ..., 2) or the samples of the sample form (``meta.form``).
MetaGameEstimate = np.ndarray | SampleMetaGame


class MATRL:
    """Trains n agents with MATRL (or one of its ablations) on one collector's environment."""

    def __init__(self, config: TrainConfig, collector: Collector) -> None:
        self.config = config.validate()
        self.collector = collector
        self.n_agents = collector.n_agents
        variant = algo_spec(config.algo).variant
        if variant is None:
            raise ValueError(f"algo={config.algo!r} is not on MATRL's code path; build it with matrl.algos")
        self.variant: Variant = variant  # which steps of Algorithm 1 run: the ablations are flags
        # The fixed-rho algorithms (il-pp and the controls) estimate the meta-game for its diagnostics only.
        self.meta_form = resolve_form(config.meta.form, self.n_agents) if self.variant.meta_step else None
        seed_everything(config.seed)
        self.device = resolve_device(config.device)
        self.net = build_actor_critic(
            config,
            self.n_agents,
            collector.obs_dim,
            collector.action_spec,
            obs_shape=getattr(collector, "obs_shape", None),
        ).to(self.device)
        self._cpu_net: ActorCritic | None = None  # acting copy for a GPU learner
        self.predict_optimizer = adam(self.net.parameters(), lr=config.ppo.lr)
        self.br_optimizer = adam(self.net.parameters(), lr=config.meta.br_lr)
        # Separate streams: action sampling, minibatch order, equilibrium selection.
        self.sampler = torch.Generator().manual_seed(config.seed + 1)
        self.shuffler = torch.Generator().manual_seed(config.seed + 2)
        self.selection_rng = np.random.default_rng(config.seed + 3)
        self.fold_shuffler = torch.Generator().manual_seed(config.seed + 4)  # cross-fitted folds only
        self.solver_stats = SolverStats()
        self.iteration_count = 0
        self.env_steps = 0
        p = config.ppo
        self.loss_weights = LossWeights(
            p.clip_ratio, p.value_coef, p.entropy_coef, p.kl_coef, p.value_clip, p.policy_coef
        )

    # ------------------------------------------------------------------ Algorithm 1
    def iteration(self) -> IterationResult:
        """One pass of Algorithm 1; the networks end at the next iteration's current policies."""
        variant = self.variant
        result = IterationResult()
        with self._timed(result, "collect"):
            batch = self.collect()
            held_out_batch = self.collect_held_out()
        with self._timed(result, "advantages"):
            samples = self.prepare(batch)
            held_out = None if held_out_batch is None else self.prepare(held_out_batch)
        with self._timed(result, "predict"):
            current = copy.deepcopy(self.net) if self._needs_current_copy() else None
            optimizer_before = self._optimizer_snapshot()
            predicted_stats = self.predict(samples)
        result.metrics.update(_agent_stats("predict", predicted_stats))
        if variant.meta_step:
            with self._timed(result, "predict"):  # pihat on the batch: only the meta-game reads it
                params_predicted = self._distribution_params(samples)
                logp_predicted = self.net.head.log_prob(params_predicted, samples.actions)
            with self._timed(result, "metagame"):
                payoffs = in_sample = self.meta_game(samples, logp_predicted)
                if variant.rho == "nash" and self.config.meta.estimator != "in_sample":
                    payoffs = self.held_out_meta_game(samples, held_out, current, optimizer_before)
                    result.metrics.update(_held_out_columns(in_sample, payoffs))
            result.metrics.update(_payoff_columns(payoffs))
            with self._timed(result, "nash"):
                rho = self.meta_strategy(payoffs, result)
            result.metrics.update({f"rho_{i}": float(r) for i, r in enumerate(rho)})
            with self._timed(result, "mixture"):
                logp_bar = self.fixed_point(samples, logp_predicted, rho, current)
            if variant.best_response:
                with self._timed(result, "best_response"):
                    br_stats, weights = self.best_response(samples, logp_bar)
                result.metrics.update(_agent_stats("br", br_stats))
                result.metrics["br_weight_mean"] = float(weights.mean())
            with self._timed(result, "diagnostics"):
                result.metrics.update(
                    self.diagnostics(
                        samples, logp_predicted, params_predicted, in_sample, payoffs, rho, current
                    )
                )
        if self.net.obs_norm is not None:
            # After the whole iteration: pi, pihat and pibar were all scored under the same statistics.
            self.net.obs_norm.update(samples.obs)
        self.iteration_count += 1
        batches = [batch] if held_out_batch is None else [batch, held_out_batch]
        self.env_steps += sum(b.env_steps for b in batches)
        result.metrics.update(
            episode_columns(
                [b.episode_returns for b in batches], [b.episode_lengths for b in batches], self.n_agents
            )
        )
        result.metrics["explained_variance"] = float(
            np.nanmean(explained_variance(samples.values, samples.returns).cpu().numpy())
        )
        return result

    # ------------------------------------------------------------------ 1. collect
    def collect(self) -> Batch:
        """A batch of ``batch_size`` env steps with the current policies (one batched call per step).

        The policy goes to the collector as a picklable `NetworkPolicy` (network and sampler), so that a
        distributed backend can ship the weights to its workers; the local one just calls it.
        """
        policy = NetworkPolicy(self._acting_net(), self.sampler, scores=False)  # `prepare` scores the batch
        return self.collector.collect(policy, self.config.steps_per_env, to_env=policy.to_env)

    def collect_held_out(self) -> Batch | None:
        """The ``fresh`` estimator's held-out batch, also collected with pi (None for the other estimators).

        It continues the env copies where the main batch left them; its env steps count in the budget.
        """
        steps = self.config.fresh_steps_per_env
        if steps == 0:
            return None
        policy = NetworkPolicy(self._acting_net(), self.sampler, scores=False)
        return self.collector.collect(policy, steps, to_env=policy.to_env)

    def prepare(self, batch: Batch) -> Samples:
        """GAE advantages and value targets, flattened to the learner layout (A, T * E).

        Observations keep the env's dtype: Pong's uint8 pixels stay uint8 in `Samples` (a quarter of float32's
        memory) and the CNN converts each forward pass's share to float32. With agents that leave or join
        (``batch.active``), inactive steps get advantage 0 and each agent bootstraps by its own termination.
        """
        p = self.config.ppo
        t, e, a = batch.actions.shape[:3]
        device = self.device
        next_obs = torch.from_numpy(batch.next_obs.reshape(t * e, a, -1)).transpose(0, 1).to(device)
        obs = torch.from_numpy(batch.obs.reshape(t * e, a, -1)).transpose(0, 1).contiguous().to(device)
        action_shape = batch.actions.shape[3:]
        flat_actions = batch.actions.reshape(t * e, a, *action_shape)
        actions = torch.from_numpy(flat_actions).transpose(0, 1).contiguous().to(device)
        with torch.no_grad():
            next_values = self.net.values(next_obs).T.reshape(t, e, a).cpu().numpy()
            values = self.net.values(obs)
            logp = self.net.log_prob(obs, actions)
        advantages, returns = gae(
            batch.rewards * np.float32(self.config.reward_scale),
            values.T.reshape(t, e, a).cpu().numpy(),
            next_values,
            batch.terminated[..., None] if batch.agent_terminated is None else batch.agent_terminated,
            batch.episode_over,
            p.gamma,
            p.lam,
            active=batch.active,
        )
        active = None
        if batch.active is not None:
            active = torch.from_numpy(batch.active.reshape(t * e, a).T.astype(np.float32)).to(device)
        adv = torch.from_numpy(advantages.reshape(t * e, a).T.astype(np.float32)).to(device)
        if p.normalize_advantages:
            adv = normalize_advantages(adv, mask=active)
        ret = torch.from_numpy(returns.reshape(t * e, a).T.astype(np.float32)).to(device)
        return Samples(
            obs=obs, actions=actions, logp=logp, values=values, advantages=adv, returns=ret, active=active
        )

    # ------------------------------------------------------------------ 2. predict
    def predict(self, samples: Samples) -> UpdateStats:
        """Each agent's trust-payoff-region step against the others' current policies (PPO, Eq. 2)."""
        p = self.config.ppo
        return ppo_update(
            self.net,
            self.predict_optimizer,
            samples,
            self.loss_weights,
            epochs=p.update_iters,
            minibatches=p.minibatches,
            target_kl=p.target_kl,
            max_grad_norm=p.max_grad_norm,
            generator=self.shuffler,
            phase="predicted-step",
            grad_chunk=p.grad_chunk,
        )

    # ------------------------------------------------------------------ 3. meta-game
    def meta_game(self, samples: Samples, logp_predicted: torch.Tensor) -> MetaGameEstimate:
        """Payoffs g_i(s) for all 2^n profiles (Eq. 3), from the same batch; the all-current entry is 0.
        In the sample form, the samples themselves, which give g at any profile (no 2^n table).
        Steps at which an agent did not act (``samples.active``) are left out."""
        log_ratios = (logp_predicted - samples.logp).double().cpu().numpy()
        mask = None if samples.active is None else samples.active.cpu().numpy()
        estimate = SampleMetaGame.from_samples if self.meta_form == "samples" else estimate_meta_game
        return estimate(
            samples.advantages.double().cpu().numpy(), log_ratios, self.config.meta.meta_ratio_clip, mask
        )

    def held_out_meta_game(
        self,
        samples: Samples,
        held_out: Samples | None,
        current: ActorCritic | None,
        optimizer_before: dict[str, Any] | None,
    ) -> MetaGameEstimate:
        """Payoffs scored on data the predicted step was not fitted on (``meta.estimator``).

        In-sample payoffs are biased upwards: the predicted step has just maximised a surrogate of the
        own-switch payoff on the same batch, so "switch" dominates almost always
        (docs/trust_stable_region.md).

        ``fresh``: the full-batch pihat scored on the held-out batch collected with pi. ``crossfit``: the
        env copies split into two folds; a predicted step fitted on one fold, from pi and the same optimiser
        state, is scored on the other, and back; the two games are averaged (the payoff tensors; in the sample
        form the payoff functions, by concatenating the folds' samples at half weight). The full-batch pihat,
        which the agents move to, is unchanged, and so are the run's RNG streams (folds shuffle with their
        own).
        """
        if self.config.meta.estimator == "fresh":
            assert held_out is not None
            return self.meta_game(held_out, self._log_prob(held_out))
        assert current is not None and optimizer_before is not None
        num_envs = self.config.num_envs
        env_of_sample = torch.arange(samples.actions.shape[1]) % num_envs
        folds = [torch.nonzero(env_of_sample < num_envs // 2).squeeze(1)]
        folds.append(torch.nonzero(env_of_sample >= num_envs // 2).squeeze(1))
        p = self.config.ppo
        payoffs: list[MetaGameEstimate] = []
        for fit, score in ((folds[0], folds[1]), (folds[1], folds[0])):
            fold_net = copy.deepcopy(current)
            optimizer = adam(fold_net.parameters(), lr=p.lr)
            optimizer.load_state_dict(optimizer_before)
            ppo_update(
                fold_net,
                optimizer,
                _subset(samples, fit),
                self.loss_weights,
                epochs=p.update_iters,
                minibatches=min(p.minibatches, len(fit)),
                target_kl=p.target_kl,
                max_grad_norm=p.max_grad_norm,
                generator=self.fold_shuffler,
                phase="cross-fitted predicted step",
                grad_chunk=p.grad_chunk,
            )
            scored = _subset(samples, score)
            with torch.no_grad():
                logp_fold = fold_net.log_prob(scored.obs, scored.actions)
            payoffs.append(self.meta_game(scored, logp_fold))
        return mean_game(payoffs)

    # ------------------------------------------------------------------ 4. Nash
    def meta_strategy(self, payoffs: MetaGameEstimate | None, result: IterationResult) -> torch.Tensor:
        """rho, each agent's probability of keeping pi_i: a Nash equilibrium of the meta-game for MATRL, or
        fixed by the ablations and controls (il-pp 0; il-matched and keep 1; placebo 0/1 at random)."""
        rule = self.variant.rho
        if rule == "nash":
            assert payoffs is not None
            return self.nash(payoffs, result)
        if rule == "placebo":
            keep = self.selection_rng.random(self.n_agents) < self.config.meta.placebo_keep_rate
            return torch.tensor(keep.astype(np.float64))
        keep_all = rule == "keep"
        return torch.full((self.n_agents,), 1.0 if keep_all else 0.0, dtype=torch.float64)

    def nash(self, payoffs: MetaGameEstimate, result: IterationResult) -> torch.Tensor:
        """rho: each agent's probability of keeping its current policy at a verified equilibrium."""
        m = self.config.meta
        nash = solve(payoffs, m.nash_method, m.selection, self.selection_rng, stats=self.solver_stats)
        result.metrics["nash_conv"] = nash.nash_conv
        result.metrics["nash_fallback"] = float(nash.fallback)
        result.metrics["nash_equilibria"] = float(nash.num_equilibria)
        return torch.tensor(np.asarray(nash.profile, dtype=np.float64))

    # ------------------------------------------------------------------ 5. weak stable fixed point
    def fixed_point(
        self,
        samples: Samples,
        logp_predicted: torch.Tensor,
        rho: torch.Tensor,
        current: ActorCritic | None,
    ) -> torch.Tensor:
        """log pibar(a|o) at the batch actions; in ``params`` mode (and w/o BR) the networks move to pibar.

        With ``br_start='mixture'`` in ``policy`` mode, pibar stays the exact mixture of distributions, but
        each agent's best response starts from the interpolated weights, so that rho_i acts on its own step.
        """
        if self.config.meta.mixture == "params" or not self.variant.best_response:
            assert current is not None
            interpolate_parameters(self.net, current, self.net, rho)
            return self._log_prob(samples)
        logp_bar = mixture_log_prob(samples.logp, logp_predicted, rho)
        if self.config.meta.br_start == "mixture" and self.variant.br_from_mixture:
            assert current is not None
            interpolate_parameters(self.net, current, self.net, rho)
        return logp_bar

    # ------------------------------------------------------------------ 6. best response
    def best_response(self, samples: Samples, logp_bar: torch.Tensor) -> tuple[UpdateStats, torch.Tensor]:
        """PPO steps of each agent against pibar_-i, weighting samples by the others' truncated ratios (an
        agent that did not act at a sample has ratio 1 there)."""
        m = self.config.meta
        log_w = torch.clamp(
            logp_bar - samples.logp, np.log1p(-m.br_importance_clip), np.log1p(m.br_importance_clip)
        )
        if samples.active is not None:
            log_w = log_w * samples.active
        weights = torch.exp(log_w.sum(0, keepdim=True) - log_w)  # prod over j != i, per sample
        stats = ppo_update(
            self.net,
            self.br_optimizer,
            samples,
            self.loss_weights,
            epochs=m.br_iters,
            minibatches=self.config.ppo.minibatches,
            sample_weights=weights,
            max_grad_norm=self.config.ppo.max_grad_norm,
            generator=self.shuffler,
            phase="best-response",
            grad_chunk=self.config.ppo.grad_chunk,
        )
        return stats, weights

    # ------------------------------------------------------------------ diagnostics
    @torch.no_grad()
    def diagnostics(
        self,
        samples: Samples,
        logp_predicted: torch.Tensor,
        params_predicted: torch.Tensor,
        in_sample: MetaGameEstimate,
        payoffs: MetaGameEstimate,
        rho: torch.Tensor,
        current: ActorCritic | None,
    ) -> dict[str, float]:
        """Why rho is what it is, per iteration (docs/algorithm.md explains each column).

        ``own_gain_i`` (the in-sample g_i when only i switches) beside ``surrogate_i`` (PPO's clipped
        surrogate of the predicted step on the same batch); then, of the game that was solved (``payoffs``,
        held out where the estimator is): whether every agent has a strictly dominant meta-action, the
        cross-effect ratio, the share of strictly mixed rho_i, and Theorem 1's alpha (max total variation of
        each step over the batch's states), epsilon (max |A_i|) and the bounds of Theorem 1 and Remark 1.
        Dominance and the cross-effect ratio need the 2^n table: the sample form skips them.
        """
        ratio = torch.exp(logp_predicted - samples.logp)
        adv = samples.advantages
        clip = self.config.ppo.clip_ratio
        # Steps at which an agent did not act (``samples.active``) count for none of its statistics.
        acted = torch.ones_like(adv) if samples.active is None else samples.active
        per_sample = torch.minimum(ratio * adv, torch.clamp(ratio, 1 - clip, 1 + clip) * adv)
        surrogate = (per_sample * acted).sum(1) / acted.sum(1).clamp(min=1)
        own = diag.own_switch_payoffs(in_sample)
        rho_np = rho.double().cpu().numpy()
        out: dict[str, float] = {}
        for i in range(self.n_agents):
            out[f"own_gain_{i}"] = float(own[i])
            out[f"surrogate_{i}"] = float(surrogate[i])
        out["own_gain_mean"] = float(own.mean())
        out["surrogate_mean"] = float(surrogate.double().mean())
        if not isinstance(payoffs, SampleMetaGame):
            dominant = diag.dominant_actions(payoffs)
            out["dominant_all"] = float(np.all(dominant >= 0))
            out["switch_dominant_share"] = float(np.mean(dominant == 1))
            out["cross_effect_ratio"] = float(np.nanmedian(diag.cross_effect_ratios(payoffs)))
        out["rho_keep_share"] = float(np.mean(rho_np >= 0.5))
        out["rho_mixed_share"] = float(np.mean((rho_np > 1e-6) & (rho_np < 1 - 1e-6)))
        if current is not None:
            params_current = current.distribution_params(samples.obs)
            tv = self.net.head.total_variation(params_current, params_predicted)
            alpha = (tv * acted).amax(1).double().cpu().numpy()
            epsilon = (adv.abs() * acted).amax(1).double().cpu().numpy()
            tpr, tsr = diag.trust_region_bounds(payoffs, rho_np, alpha, epsilon, self.config.ppo.gamma)
            for i in range(self.n_agents):
                out[f"tpr_alpha_{i}"] = float(alpha[i])
                out[f"tpr_epsilon_{i}"] = float(epsilon[i])
                out[f"tpr_bound_{i}"] = float(tpr[i])
                out[f"tsr_bound_{i}"] = float(tsr[i])
        return out

    # ------------------------------------------------------------------ helpers
    def _needs_current_copy(self) -> bool:
        """pi's weights are needed after the predicted step has overwritten them by the params mixture, a best
        response that starts from the mixture, the cross-fitted estimator and the step-size diagnostics."""
        return self.variant.meta_step

    def _optimizer_snapshot(self) -> dict[str, Any] | None:
        """The predicted step's optimiser state before the step (the cross-fitted folds start from it)."""
        if self.variant.rho == "nash" and self.config.meta.estimator == "crossfit":
            return copy.deepcopy(self.predict_optimizer.state_dict())
        return None

    def _acting_net(self) -> ActorCritic:
        """The networks the env copies act with: the learner's own on the CPU; with a GPU learner, a CPU copy
        of its current weights (a step's forward pass over a few dozen observations is faster there)."""
        if self.device.type == "cpu":
            return self.net
        if self._cpu_net is None:
            self._cpu_net = copy.deepcopy(self.net).cpu()
        else:
            self._cpu_net.load_state_dict(self.net.state_dict())
        return self._cpu_net

    @torch.no_grad()
    def _log_prob(self, samples: Samples) -> torch.Tensor:
        return self.net.log_prob(samples.obs, samples.actions)

    @torch.no_grad()
    def _distribution_params(self, samples: Samples) -> torch.Tensor:
        return self.net.distribution_params(samples.obs)

    @contextmanager
    def _timed(self, result: IterationResult, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        result.phase_seconds[phase] = result.phase_seconds.get(phase, 0.0) + time.perf_counter() - start

    # ------------------------------------------------------------------ state for checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue bit-identically (tensors and plain values only)."""
        return {
            "net": self.net.state_dict(),
            "predict_optimizer": self.predict_optimizer.state_dict(),
            "br_optimizer": self.br_optimizer.state_dict(),
            "sampler": self.sampler.get_state(),
            "shuffler": self.shuffler.get_state(),
            "fold_shuffler": self.fold_shuffler.get_state(),
            "selection_rng": jsonable(self.selection_rng.bit_generator.state),
            "solver_stats": {"calls": self.solver_stats.calls, "fallbacks": self.solver_stats.fallbacks},
            "iteration": self.iteration_count,
            "env_steps": self.env_steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of `state_dict`."""
        self.net.load_state_dict(state["net"])
        self.predict_optimizer.load_state_dict(state["predict_optimizer"])
        self.br_optimizer.load_state_dict(state["br_optimizer"])
        self.sampler.set_state(state["sampler"])
        self.shuffler.set_state(state["shuffler"])
        if "fold_shuffler" in state:  # absent in checkpoints written before the cross-fitted estimator
            self.fold_shuffler.set_state(state["fold_shuffler"])
        self.selection_rng.bit_generator.state = state["selection_rng"]
        self.solver_stats.calls = int(state["solver_stats"]["calls"])
        self.solver_stats.fallbacks = int(state["solver_stats"]["fallbacks"])
        self.iteration_count = int(state["iteration"])
        self.env_steps = int(state["env_steps"])


def build_actor_critic(
    config: TrainConfig,
    n_agents: int,
    obs_dim: int,
    spec: ActionSpec,
    obs_shape: Sequence[int] | None = None,
) -> ActorCritic:
    """The networks a config describes, for an environment with these agents, observations and actions.

    ``obs_shape`` is the env's image shape (C, H, W), or None for flat observations; ``config.network``
    ``auto`` builds CNNs exactly when it has rank 3.
    """
    image = obs_shape is not None and len(obs_shape) == 3
    if config.network == "cnn" and not image:
        raise ValueError(
            f"network='cnn' needs image observations (C, H, W); {config.env} has flat observations of "
            f"{obs_dim} values"
        )
    torso = None
    if config.network == "cnn" or (config.network == "auto" and image):
        c = config.cnn
        torso = ConvTorso(tuple(c.channels), tuple(c.kernels), tuple(c.strides), c.activation)
    return ActorCritic(
        n_agents,
        obs_dim,
        spec,
        config.hidden,
        obs_norm=config.obs_norm,
        log_std_init=config.log_std_init,
        action_bounds=config.action_bounds,
        obs_shape=obs_shape,
        torso=torso,
    )


def _agent_stats(prefix: str, stats: UpdateStats) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in ("approx_kl", "clip_fraction", "entropy", "policy_loss", "value_loss", "steps"):
        values = getattr(stats, name)
        out[f"{prefix}_{name}"] = float(values.float().mean())
    return out


def _subset(samples: Samples, index: torch.Tensor) -> Samples:
    """The samples at ``index`` along the batch axis (every field is (A, B, ...) or None)."""
    subset: dict[str, Any] = {}
    for f in dataclasses.fields(Samples):
        value = getattr(samples, f.name)
        subset[f.name] = None if value is None else value[:, index]
    return Samples(**subset)


def _held_out_columns(in_sample: MetaGameEstimate, held_out: MetaGameEstimate) -> dict[str, float]:
    """Each agent's own-switch payoff scored held out, and the in-sample estimate's excess over it."""
    own_in, own_out = diag.own_switch_payoffs(in_sample), diag.own_switch_payoffs(held_out)
    out = {f"own_gain_heldout_{i}": float(v) for i, v in enumerate(own_out)}
    out["own_gain_heldout_mean"] = float(own_out.mean())
    out["own_gain_bias_mean"] = float((own_in - own_out).mean())
    return out


def _payoff_columns(payoffs: MetaGameEstimate) -> dict[str, float]:
    """g_i(s) as columns ``g{i}_{bits}``, bits = each agent's choice (0 current, 1 predicted); none for the
    sample form (2^n columns per agent are what it avoids)."""
    if isinstance(payoffs, SampleMetaGame):
        return {}
    n = payoffs.shape[0]
    out = {}
    for i in range(n):
        for profile in np.ndindex(*(2,) * n):
            out[f"g{i}_{''.join(map(str, profile))}"] = float(payoffs[(i, *profile)])
    return out
