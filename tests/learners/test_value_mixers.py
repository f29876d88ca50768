"""Value decomposition: VDN additivity, QMIX monotonicity, epsilon schedule, double-Q, QTRAN losses."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from matrl.learners.mixers import QMixer, double_q_targets, epsilon_schedule, td_targets, vdn_mix
from matrl.learners.qtran import JointActionValue, StateValue, qtran_losses


def test_vdn_is_the_sum_with_unit_gradients() -> None:
    q = torch.tensor([[1.0, -2.0, 0.5], [3.0, 4.0, -1.5]], requires_grad=True)
    q_tot = vdn_mix(q)
    torch.testing.assert_close(q_tot, torch.tensor([4.0, 2.0, -1.0]))
    # d Q_tot[b] / d Q_i[b] = 1 for every agent, and 0 across samples.
    (jac,) = torch.autograd.grad(q_tot[1], q)
    torch.testing.assert_close(jac, torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]))
    q_tot.sum().backward()
    assert q.grad is not None
    torch.testing.assert_close(q.grad, torch.ones(2, 3))
    with pytest.raises(ValueError, match="agents, batch"):
        vdn_mix(torch.zeros(2, 3, 1))


@settings(max_examples=40, deadline=None, database=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    num_agents=st.integers(1, 4),
    two_layer_hypernets=st.booleans(),
    scale=st.floats(0.1, 20.0),
)
def test_qmix_is_monotone_in_every_agent_q(
    seed: int, num_agents: int, two_layer_hypernets: bool, scale: float
) -> None:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    mixer = QMixer(num_agents, state_dim=5, embed_dim=8, hypernet_hidden=8 if two_layer_hypernets else None)
    mixer = mixer.double()
    batch = 16
    state = torch.randn(batch, 5, generator=gen, dtype=torch.float64) * scale
    q = (torch.randn(num_agents, batch, generator=gen, dtype=torch.float64) * scale).requires_grad_(True)
    q_tot = mixer(q, state)
    assert q_tot.shape == (batch,)
    # Samples are independent, so the gradient of the sum holds every dQ_tot[b] / dQ_i[b].
    (grad,) = torch.autograd.grad(q_tot.sum(), q)
    assert (grad >= 0).all()
    # Raising one agent's Q never lowers Q_tot.
    with torch.no_grad():
        for agent in range(num_agents):
            bumped = q.detach().clone()
            bumped[agent] += torch.rand(batch, generator=gen, dtype=torch.float64) * scale + 1e-3
            assert (mixer(bumped, state) >= q_tot.detach() - 1e-9).all()


def test_qmix_depends_on_the_state_and_checks_shapes() -> None:
    torch.manual_seed(0)
    mixer = QMixer(num_agents=3, state_dim=4)
    assert mixer.embed_dim == 128
    q = torch.randn(3, 1).expand(3, 2)  # the same agent Q-values for both samples
    states = torch.randn(2, 4)
    q_tot = mixer(q, states)
    assert not torch.allclose(q_tot[0], q_tot[1])
    # Per-sample: each output depends only on its own state.
    torch.testing.assert_close(mixer(q[:, :1], states[:1]), q_tot[:1])
    with pytest.raises(ValueError, match="agent Q-values"):
        mixer(torch.zeros(2, 2), states)
    with pytest.raises(ValueError, match="state of shape"):
        mixer(q, torch.zeros(2, 5))


def test_epsilon_schedule_endpoints_and_clamp() -> None:
    assert epsilon_schedule(0) == 1.0
    assert epsilon_schedule(25_000) == pytest.approx(0.525)
    assert epsilon_schedule(50_000) == pytest.approx(0.05)
    assert epsilon_schedule(10**7) == pytest.approx(0.05)
    assert epsilon_schedule(5, start=0.5, end=0.1, anneal_steps=10) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="step"):
        epsilon_schedule(-1)
    with pytest.raises(ValueError, match="anneal_steps"):
        epsilon_schedule(0, anneal_steps=0)


def test_double_q_takes_online_argmax_evaluated_by_target() -> None:
    # 2 agents, 2 samples, 3 actions. The online and target argmaxes differ everywhere.
    online = torch.tensor(
        [
            [[1.0, 5.0, 2.0], [0.0, -1.0, 3.0]],
            [[9.0, 0.0, 1.0], [2.0, 4.0, 3.0]],
        ],
        requires_grad=True,
    )
    target = torch.tensor(
        [
            [[10.0, 0.5, 20.0], [7.0, 8.0, -2.0]],
            [[-1.0, 6.0, 5.0], [11.0, 0.25, 12.0]],
        ],
        requires_grad=True,
    )
    # Online argmaxes: [[1, 2], [0, 1]] -> target values [[0.5, -2.0], [-1.0, 0.25]].
    values = double_q_targets(online, target)
    torch.testing.assert_close(values, torch.tensor([[0.5, -2.0], [-1.0, 0.25]]))
    assert not values.requires_grad
    # Masking agent 0's action 1 in sample 0 moves its argmax to action 2 -> target 20.0.
    available = torch.ones(2, 2, 3, dtype=torch.bool)
    available[0, 0, 1] = False
    masked = double_q_targets(online, target, available)
    torch.testing.assert_close(masked, torch.tensor([[20.0, -2.0], [-1.0, 0.25]]))
    with pytest.raises(ValueError, match="same shape"):
        double_q_targets(online, target[:, :1])


def test_td_targets_stop_bootstrap_only_at_termination() -> None:
    rewards = torch.tensor([1.0, 2.0])
    next_value = torch.tensor([10.0, 10.0], requires_grad=True)
    y = td_targets(rewards, torch.tensor([False, True]), next_value, gamma=0.9)
    torch.testing.assert_close(y, torch.tensor([10.0, 2.0]))
    assert not y.requires_grad
    # Per-agent targets (A, B) broadcast against shared termination (B,).
    per_agent = td_targets(torch.zeros(2, 2), torch.tensor([0.0, 1.0]), torch.ones(2, 2), gamma=0.5)
    torch.testing.assert_close(per_agent, torch.tensor([[0.5, 0.0], [0.5, 0.0]]))
    with pytest.raises(ValueError, match="gamma"):
        td_targets(rewards, torch.tensor([False, True]), next_value, gamma=1.5)


def _qtran_inputs() -> dict[str, torch.Tensor]:
    # 2 agents, 2 samples. Taken-action Q_i: agent 0 [1.0, 0.5], agent 1 [2.0, -1.0] -> sums [3.0, -0.5];
    # greedy-action Q_i sum to [4.0, 1.0].
    q_agents_taken = torch.tensor([[1.0, 0.5], [2.0, -1.0]])
    return {
        "q_joint_taken": torch.tensor([2.5, 1.0], requires_grad=True),
        "q_joint_greedy": torch.tensor([5.0, 0.5], requires_grad=True),
        "v_joint": torch.tensor([0.5, 1.0], requires_grad=True),
        "q_sum_taken": vdn_mix(q_agents_taken).requires_grad_(True),
        "q_sum_greedy": torch.tensor([4.0, 1.0], requires_grad=True),
        "td_target": torch.tensor([3.0, 0.0], requires_grad=True),
    }


def test_qtran_losses_hand_checked() -> None:
    inputs = _qtran_inputs()
    losses = qtran_losses(**inputs, lambda_opt=1.0, lambda_nopt=0.1)
    # L_td   = mean((2.5 - 3)^2, (1 - 0)^2) = (0.25 + 1) / 2
    # L_opt  = mean((4 - 5 + 0.5)^2, (1 - 0.5 + 1)^2) = (0.25 + 2.25) / 2
    # L_nopt = mean(min(3 - 2.5 + 0.5, 0)^2, min(-0.5 - 1 + 1, 0)^2) = (0 + 0.25) / 2: sample 0 is clipped.
    torch.testing.assert_close(losses["td"], torch.tensor(0.625))
    torch.testing.assert_close(losses["opt"], torch.tensor(1.25))
    torch.testing.assert_close(losses["nopt"], torch.tensor(0.125))
    torch.testing.assert_close(losses["total"], torch.tensor(0.625 + 1.25 + 0.1 * 0.125))


def test_qtran_gradients_follow_the_paper_detaches() -> None:
    inputs = _qtran_inputs()
    losses = qtran_losses(**inputs, lambda_opt=1.0, lambda_nopt=0.1)
    names = list(inputs)

    def grads(loss: torch.Tensor) -> dict[str, torch.Tensor | None]:
        return dict(
            zip(
                names,
                torch.autograd.grad(loss, list(inputs.values()), allow_unused=True, retain_graph=True),
                strict=True,
            )
        )

    # L_td: only Q_jt(s, u); the target is a constant. dL/dQ_jt = 2 (Q_jt - y) / B = [-0.5, 1.0].
    g = grads(losses["td"])
    torch.testing.assert_close(g["q_joint_taken"], torch.tensor([-0.5, 1.0]))
    assert all(g[name] is None for name in names if name != "q_joint_taken")
    # L_opt: Q̂_jt(s, ū) is fixed, so it moves only sum_i Q_i(ū) and V; 2 * [-0.5, 1.5] / 2.
    g = grads(losses["opt"])
    assert g["q_joint_greedy"] is None and g["q_joint_taken"] is None
    torch.testing.assert_close(g["q_sum_greedy"], torch.tensor([-0.5, 1.5]))
    torch.testing.assert_close(g["v_joint"], torch.tensor([-0.5, 1.5]))
    assert g["q_sum_taken"] is None
    # L_nopt: Q̂_jt(s, u) fixed; the clipped sample 0 gives no gradient at all; 2 * [0, -0.5] / 2.
    g = grads(losses["nopt"])
    assert g["q_joint_taken"] is None and g["q_joint_greedy"] is None
    torch.testing.assert_close(g["q_sum_taken"], torch.tensor([0.0, -0.5]))
    torch.testing.assert_close(g["v_joint"], torch.tensor([0.0, -0.5]))
    # Total: Q_jt gets the TD gradient only; V and the sums get the weighted constraint gradients.
    g = grads(losses["total"])
    torch.testing.assert_close(g["q_joint_taken"], torch.tensor([-0.5, 1.0]))
    torch.testing.assert_close(g["v_joint"], torch.tensor([-0.5, 1.5 - 0.05]))
    torch.testing.assert_close(g["q_sum_taken"], torch.tensor([0.0, -0.05]))
    assert g["td_target"] is None and g["q_joint_greedy"] is None


def test_qtran_shape_errors() -> None:
    inputs = _qtran_inputs()
    inputs["v_joint"] = torch.zeros(2, 1)
    with pytest.raises(ValueError, match="v_joint"):
        qtran_losses(**inputs, lambda_opt=1.0, lambda_nopt=0.1)


def test_qtran_networks_shapes_and_action_dependence() -> None:
    torch.manual_seed(0)
    q_jt = JointActionValue(state_dim=4, num_agents=2, n_actions=3, hidden=(16,))
    v = StateValue(state_dim=4, hidden=(16,))
    state = torch.randn(5, 4)
    actions = torch.tensor([[0, 1, 2, 0, 1], [2, 2, 0, 1, 1]])
    out = q_jt(state, actions)
    assert out.shape == (5,) and v(state).shape == (5,)
    # Changing one agent's action changes Q_jt: the joint action enters the input.
    other = actions.clone()
    other[1, 0] = 0
    assert not torch.allclose(q_jt(state, other)[0], out[0])
    torch.testing.assert_close(q_jt(state, other)[1:], out[1:])
    with pytest.raises(ValueError, match="actions of shape"):
        q_jt(state, actions[:, :3])
