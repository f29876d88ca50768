"""Plain-Python, one-copy, list-based re-statement of the spec (reference sections 1, 3, 4), for cross-checks.

Deliberately written the slow, literal way (a dict grid, one agent at a time, Python floats) so that it shares
no code or tables with the batched numpy cores it checks.
"""

from __future__ import annotations

from typing import ClassVar

DELTAS = {0: (1, 0), 1: (0, -1), 2: (-1, 0), 3: (0, 1), 4: (0, 0)}


class RefCheckers:
    rows, cols = 3, 8

    def __init__(self, step_cost: float = -0.01, max_steps: int = 100, full_observable: bool = False) -> None:
        self.step_cost, self.max_steps, self.full = step_cost, max_steps, full_observable

    def reset(self) -> list[list[float]]:
        self.grid: dict[tuple[int, int], str] = {}
        for r in range(3):
            for c in range(8):
                if c < 6:
                    self.grid[(r, c)] = "apple" if (r % 2 == 0) == (c % 2 == 0) else "lemon"
                else:
                    self.grid[(r, c)] = "empty"
        self.pos = [(0, 6), (2, 6)]
        for p in self.pos:
            self.grid[p] = "agent"
        self.food = {"lemon": 9, "apple": 9}
        self.t = 0
        self.dones = [False, False]
        return self.obs()

    def obs(self) -> list[list[float]]:
        code = {"empty": 0.0, "lemon": 1.0, "apple": 2.0, "agent": 3.0}
        out = []
        for r, c in self.pos:
            o = [round(r / 3, 2), round(c / 7, 2)]
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    o.append(code[self.grid.get((r + dr, c + dc), "empty")])
            out.append(o)
        if self.full:
            flat = [x for o in out for x in o]
            return [list(flat) for _ in out]
        return out

    def step(self, actions: list[int]) -> tuple[list[list[float]], list[float], list[bool], dict[str, int]]:
        self.t += 1
        values = [{"apple": 5.0, "lemon": -5.0}, {"apple": 1.0, "lemon": -1.0}]
        rewards = [self.step_cost, self.step_cost]
        for i, a in enumerate(actions):
            r, c = self.pos[i]
            dr, dc = DELTAS[a]
            nxt = (r + dr, c + dc)
            if a == 4 or nxt not in self.grid or self.grid[nxt] == "agent":
                continue
            item = self.grid[nxt]
            if item in values[i]:
                rewards[i] += values[i][item]
                self.food[item] -= 1
            self.grid[(r, c)] = "empty"
            self.grid[nxt] = "agent"
            self.pos[i] = nxt
        if self.t >= self.max_steps or self.food["apple"] == 0:
            self.dones = [True, True]
        return self.obs(), rewards, list(self.dones), dict(self.food)


class RefSwitch:
    starts: ClassVar = [(0, 1), (0, 5), (2, 1), (2, 5)]
    targets: ClassVar = [(0, 6), (0, 0), (2, 6), (2, 0)]
    walls: ClassVar = {(0, 2), (0, 3), (0, 4), (2, 2), (2, 3), (2, 4)}

    def __init__(
        self,
        n_agents: int,
        step_cost: float = -0.1,
        max_steps: int = 50,
        full_observable: bool = False,
        phantoms: bool = True,
    ) -> None:
        self.n, self.step_cost, self.max_steps = n_agents, step_cost, max_steps
        self.full, self.phantoms = full_observable, phantoms

    def reset(self) -> list[list[float]]:
        self.occupied: set[tuple[int, int]] = set(self.starts if self.phantoms else self.starts[: self.n])
        self.pos = list(self.starts[: self.n])
        self.t = 0
        self.dones = [False] * self.n
        return self.obs()

    def obs(self) -> list[list[float]]:
        out = [[round(r / 2, 2), round(c / 6, 2)] for r, c in self.pos]
        if self.full:
            flat = [x for o in out for x in o]
            return [list(flat) for _ in out]
        return out

    def step(self, actions: list[int]) -> tuple[list[list[float]], list[float], list[bool], dict[str, int]]:
        self.t += 1
        rewards = [self.step_cost] * self.n
        for i, a in enumerate(actions):
            if self.dones[i]:
                continue
            r, c = self.pos[i]
            dr, dc = DELTAS[a]
            nxt = (r + dr, c + dc)
            inside = 0 <= nxt[0] < 3 and 0 <= nxt[1] < 7
            if inside and nxt not in self.walls and nxt not in self.occupied:
                self.occupied.discard((r, c))
                self.occupied.add(nxt)
                self.pos[i] = nxt
            if self.pos[i] == self.targets[i]:
                self.dones[i] = True
                rewards[i] = 5.0
        if self.t >= self.max_steps:
            self.dones = [True] * self.n
        return self.obs(), rewards, list(self.dones), {}


def reference(env_id: str, **kwargs: object) -> RefCheckers | RefSwitch:
    """The reference env for a registry id (kwargs as for make_env, phantom_blockers renamed)."""
    if "phantom_blockers" in kwargs:
        kwargs["phantoms"] = kwargs.pop("phantom_blockers")
    if env_id == "checkers_v0":
        return RefCheckers(**kwargs)  # type: ignore[arg-type]
    n = {"switch2_v0": 2, "switch4_v0": 4}[env_id]
    return RefSwitch(n, **kwargs)  # type: ignore[arg-type]
