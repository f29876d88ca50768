"""state_dict / load_state_dict of the batched cores: a restored core continues bit-identically."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from matrl.envs import VectorCore, make_vector_env

CASES: list[tuple[str, dict[str, Any]]] = [
    ("checkers_v0", {"max_steps": 40}),
    ("checkers_v0", {"full_observable": True}),
    ("switch2_v0", {}),
    ("switch2_v0", {"phantom_blockers": False, "max_steps": 30}),
    ("switch4_v0", {}),
    ("matrix_v0", {"episode_length": 7}),
    ("matrix_v0", {"payoffs": np.arange(3 * 3**3).reshape(3, 3, 3, 3), "episode_length": 4}),
]
FIELDS = ("obs", "final_obs", "rewards", "terminated", "truncated", "episode_over", "done")
FIELDS += ("episode_return", "episode_length")
NUM_ENVS, STEPS, SNAP_AT = 6, 160, 67


def actions_for(core: VectorCore, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    acts = rng.integers(0, core.n_actions, size=(STEPS, core.num_envs, core.n_agents))
    if core.env_id.startswith("switch"):
        # Push agents towards their targets (even agents right, odd left) so that arrivals actually happen.
        p = {0: [0.15, 0.1, 0.15, 0.45, 0.15], 1: [0.15, 0.45, 0.15, 0.1, 0.15]}
        for i in range(core.n_agents):
            acts[:, :, i] = rng.choice(5, size=(STEPS, core.num_envs), p=p[i % 2])
    return acts


def run(core: VectorCore, actions: np.ndarray) -> list[dict[str, Any]]:
    out = []
    for a in actions:
        res = core.step(a)
        out.append({name: getattr(res, name).copy() for name in FIELDS} | {"info": dict(res.info)})
    return out


def assert_same(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert len(got) == len(want)
    for t, (g, w) in enumerate(zip(got, want, strict=True)):
        for name in FIELDS:
            assert g[name].dtype == w[name].dtype
            assert_array_equal(g[name], w[name], err_msg=f"{name} at step {t}")
        assert g["info"].keys() == w["info"].keys()
        for key in g["info"]:
            assert_array_equal(g["info"][key], w["info"][key], err_msg=f"info {key} at step {t}")


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=[f"{e}-{i}" for i, (e, _) in enumerate(CASES)])
def test_restore_continues_bit_identically(env_id: str, kwargs: dict[str, Any]) -> None:
    ref = make_vector_env(env_id, NUM_ENVS, **kwargs)
    actions = actions_for(ref, seed=len(env_id) + len(kwargs))
    ref.reset()
    want = run(ref, actions)
    assert any(step["episode_over"].any() for step in want[SNAP_AT:])  # resets happen after the snapshot
    if env_id.startswith("switch"):
        assert any(step["info"]["arrived"].any() for step in want[SNAP_AT:])  # the snapshot holds arrivals
    if env_id == "switch2_v0" and not kwargs:
        assert any(step["terminated"].any() for step in want[SNAP_AT:])  # and some episodes end by arrival

    live = make_vector_env(env_id, NUM_ENVS, **kwargs)
    live.reset()
    assert_same(run(live, actions[:SNAP_AT]), want[:SNAP_AT])
    snap = live.state_dict()
    assert_same(run(live, actions[SNAP_AT:]), want[SNAP_AT:])  # taking the snapshot changed nothing

    fresh = make_vector_env(env_id, NUM_ENVS, **kwargs)
    fresh.reset()
    run(fresh, actions[:11])  # some other state, which the snapshot must fully overwrite
    fresh.load_state_dict(snap)
    assert_same(run(fresh, actions[SNAP_AT:]), want[SNAP_AT:])


@pytest.mark.parametrize("env_id", ["checkers_v0", "switch4_v0"])
def test_restore_keeps_views_and_copies(env_id: str) -> None:
    core = make_vector_env(env_id, 3)
    core.reset()
    core.step(np.zeros((3, core.n_agents), dtype=np.int64))
    snap = core.state_dict()
    before = {k: v.copy() for k, v in snap.items()}
    snap["grid"][...] = 0  # the returned arrays are copies: editing them does not touch the core
    assert_array_equal(core.state_dict()["grid"], before["grid"])
    grid = core._grid  # type: ignore[attr-defined]
    core.load_state_dict(before)
    assert core._grid is grid  # type: ignore[attr-defined]  # restored in place ...
    assert np.shares_memory(core._grid_flat, core._grid)  # type: ignore[attr-defined]  # ... views stay valid
    before["pos"][...] = 0  # the core copied the values in
    assert not (core.state_dict()["pos"] == 0).all()


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=[f"{e}-{i}" for i, (e, _) in enumerate(CASES)])
def test_state_fields_cover_everything_that_steps_change(env_id: str, kwargs: dict[str, Any]) -> None:
    """Guards the explicit ``_state_fields`` lists: any array a step mutates must be in the snapshot."""
    core = make_vector_env(env_id, NUM_ENVS, **kwargs)
    core.reset()
    arrays = {k: v for k, v in vars(core).items() if isinstance(v, np.ndarray)}
    initial = {k: v.copy() for k, v in arrays.items()}
    changed: set[str] = set()
    for a in actions_for(core, seed=1):
        core.step(a)
        changed |= {k for k, v in arrays.items() if not np.array_equal(v, initial[k])}
    declared = [getattr(core, "_" + key) for key in core.state_dict()]
    assert {"_steps", "_returns"} <= changed  # the check is not vacuous
    for name in changed:
        assert any(np.shares_memory(arrays[name], d) for d in declared), f"{name} changes but is not saved"
    # Nothing rebinds its arrays either (a rebinding would escape both this check and load_state_dict).
    assert all(getattr(core, k) is v for k, v in arrays.items())


def test_state_keys() -> None:
    assert sorted(make_vector_env("checkers_v0", 2).state_dict()) == [
        "apples",
        "grid",
        "lemons",
        "over",
        "pos",
        "returns",
        "steps",
    ]
    assert sorted(make_vector_env("switch2_v0", 2).state_dict()) == [
        "arrived",
        "grid",
        "over",
        "pos",
        "returns",
        "steps",
    ]
    assert sorted(make_vector_env("matrix_v0", 2).state_dict()) == ["over", "returns", "steps"]


def test_autoreset_off_restores_finished_flag() -> None:
    core = make_vector_env("switch2_v0", 2, max_steps=1, autoreset=False)
    core.reset()
    core.step(np.full((2, 2), 4))
    snap = core.state_dict()
    assert snap["over"].all()
    fresh = make_vector_env("switch2_v0", 2, max_steps=1, autoreset=False)
    fresh.reset()
    fresh.load_state_dict(snap)
    with pytest.raises(ValueError, match=r"episode is over in env copies \[0, 1\]"):
        fresh.step(np.full((2, 2), 4))


def test_load_errors_name_the_key_and_leave_the_core_unchanged() -> None:
    core = make_vector_env("checkers_v0", 2)
    core.reset()
    core.step([[1, 1], [0, 2]])
    good = core.state_dict()
    other = make_vector_env("checkers_v0", 2)
    other.reset()
    untouched = other.state_dict()

    missing = {k: v for k, v in good.items() if k != "lemons"}
    with pytest.raises(ValueError, match=r"^missing state key 'lemons' for checkers_v0; expected \["):
        other.load_state_dict(missing)
    with pytest.raises(ValueError, match=r"^unknown state key 'arrived' for checkers_v0"):
        other.load_state_dict(good | {"arrived": np.zeros((2, 2), dtype=bool)})
    with pytest.raises(ValueError, match=r"^state key 'grid' must be int8 of shape \(2, 25\), got int64 of"):
        other.load_state_dict(good | {"grid": good["grid"].astype(np.int64)})
    with pytest.raises(
        ValueError, match=r"^state key 'steps' must be int64 of shape \(2,\), got int64 of shape"
    ):
        other.load_state_dict(make_vector_env("checkers_v0", 3).state_dict())
    with pytest.raises(
        ValueError, match=r"^state key 'pos' must be int64 of shape \(2, 2\), got int64 of shape \(2, 4\)"
    ):
        other.load_state_dict(good | {"pos": make_vector_env("switch4_v0", 2).state_dict()["pos"]})
    # Every failure was detected before any write.
    for key, value in other.state_dict().items():
        assert_array_equal(value, untouched[key], err_msg=key)
