"""Switch2-v0 / Switch4-v0 of ma-gym (commit 8eca34e), batched: agents swap rooms through a one-cell corridor.

Rules as implemented (docs/gridworlds.md, reference section 4): a 3x7 map with two rooms joined by the
corridor row 1, columns 2-4. Agents move one after the other in index order; a move into a wall, off the map,
or into any occupied cell fails. Every agent pays the step cost -0.1 each step, *including agents that
already arrived* (they stay parked on their target, actions ignored, still blocking the cell); on the step an
agent first stands on its target its reward is replaced by +5 and it is done. The episode ends when all agents
arrived (termination) or after ``max_steps`` steps (truncation). Observation:
``[round(row/2, 2), round(col/6, 2)]`` of the agent itself.

ma-gym quirk kept by default: with fewer than four agents the unused start cells (2, 1) and (2, 5) hold
immobile invisible "phantom" agents that block movement for the whole episode (``phantom_blockers``).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from numpy.typing import DTypeLike, NDArray

from matrl.envs import drawing
from matrl.envs.core import ACTION_DELTAS, N_ACTIONS, NOOP, GridCore

ROWS, COLS = 3, 7
N_CELLS = ROWS * COLS
FREE, WALL = 0, -1  # grid codes; agent k (phantoms included) is k + 1
WALLS: tuple[tuple[int, int], ...] = ((0, 2), (0, 3), (0, 4), (2, 2), (2, 3), (2, 4))
STARTS: tuple[tuple[int, int], ...] = ((0, 1), (0, 5), (2, 1), (2, 5))
TARGETS: tuple[tuple[int, int], ...] = ((0, 6), (0, 0), (2, 6), (2, 0))
MAX_AGENTS = len(STARTS)
OBS_DIM = 2
# Upstream observation_space (ma-gym a17127d).
OBS_LOW = np.zeros(OBS_DIM, dtype=np.float32)
OBS_HIGH = np.ones(OBS_DIM, dtype=np.float32)


def _cell(row: int, col: int) -> int:
    return row * COLS + col


def _move_table() -> NDArray[np.intp]:
    """``table[cell * 5 + action]`` = target cell, or ``cell`` itself for a wall or off-map target.

    Walls never move, so they are folded in here; agents (and phantoms) are checked on the grid at step time.
    """
    walls = {_cell(r, c) for r, c in WALLS}
    table = np.empty(N_CELLS * N_ACTIONS, dtype=np.intp)
    for r in range(ROWS):
        for c in range(COLS):
            for a, (dr, dc) in enumerate(ACTION_DELTAS):
                nr, nc = r + dr, c + dc
                ok = 0 <= nr < ROWS and 0 <= nc < COLS and _cell(nr, nc) not in walls
                table[_cell(r, c) * N_ACTIONS + a] = _cell(nr, nc) if ok else _cell(r, c)
    return table


MOVE = _move_table()
#: ``[round(row / 2, 2), round(col / 6, 2)]`` per cell.
POSITION = np.array(
    [[round(r / (ROWS - 1), 2), round(c / (COLS - 1), 2)] for r in range(ROWS) for c in range(COLS)],
    dtype=np.float32,
)


class SwitchCore(GridCore):
    """``num_envs`` copies of the one-corridor Switch with 2-4 agents (rules: see the module docstring).

    Defaults are the registered ``SwitchN-v0`` values (step cost -0.1, 50 steps). ``full_observable=True`` is
    ``SwitchN-v1`` (every agent sees all positions, 2n floats). ``phantom_blockers=False`` removes the phantom
    agents of the pinned code (upstream did so in 2021); it changes nothing with four agents.
    ``info["arrived"]`` (E, n) tells which agents have reached their target.
    """

    shape = (ROWS, COLS)
    # Board (``_grid_flat`` is a view of it), agent cells and arrivals: all that a step changes.
    _state_fields = ("_grid", "_pos", "_arrived")

    def __init__(
        self,
        num_envs: int = 1,
        *,
        n_agents: int = 4,
        step_cost: float = -0.1,
        max_steps: int = 50,
        full_observable: bool = False,
        phantom_blockers: bool = True,
        arrival_reward: float = 5.0,
        autoreset: bool = True,
        reward_dtype: DTypeLike = np.float32,
    ) -> None:
        if not 2 <= int(n_agents) <= MAX_AGENTS:
            raise ValueError(f"n_agents must be 2, 3 or 4 (the map has four start cells), got {n_agents}")
        self.env_id = f"switch{int(n_agents)}_v0"
        self.step_cost = float(step_cost)
        self.arrival_reward = float(arrival_reward)
        self.phantom_blockers = bool(phantom_blockers)
        n = int(n_agents)
        self._starts = np.array([_cell(r, c) for r, c in STARTS[:n]], dtype=np.intp)
        self._targets = np.array([_cell(r, c) for r, c in TARGETS[:n]], dtype=np.intp)
        grid = np.zeros(N_CELLS, dtype=np.int8)
        for r, c in WALLS:
            grid[_cell(r, c)] = WALL
        placed = MAX_AGENTS if self.phantom_blockers else n
        for k in range(placed):
            grid[_cell(*STARTS[k])] = k + 1
        self._initial_grid = grid
        dtype = np.dtype(reward_dtype)
        self._step_r = np.asarray(self.step_cost, dtype=dtype)
        self._arrive_r = np.asarray(self.arrival_reward, dtype=dtype)
        self._codes = np.arange(1, n + 1, dtype=np.int8)
        super().__init__(
            num_envs,
            n,
            OBS_DIM,
            OBS_LOW,
            OBS_HIGH,
            max_steps=max_steps,
            full_observable=full_observable,
            autoreset=autoreset,
            reward_dtype=reward_dtype,
        )

    def _allocate(self) -> None:
        e, n = self.num_envs, self.n_agents
        self._grid = np.empty((e, N_CELLS), dtype=np.int8)
        self._grid_flat = self._grid.reshape(-1)
        self._offset = np.arange(e, dtype=np.intp) * N_CELLS
        self._pos = np.empty((e, n), dtype=np.intp)
        self._arrived = np.empty((e, n), dtype=np.bool_)

    def _reset_state(self, mask: NDArray[np.bool_]) -> None:
        self._grid[mask] = self._initial_grid
        self._pos[mask] = self._starts
        self._arrived[mask] = False

    def _advance(
        self, actions: NDArray[np.intp]
    ) -> tuple[NDArray[np.floating[Any]], NDArray[np.bool_], NDArray[np.bool_]]:
        grid, off = self._grid_flat, self._offset
        moves = np.where(self._arrived, NOOP, actions)  # arrived agents are skipped: they stay put
        for i in range(self.n_agents):  # sequential moves in agent-index order, as in ma-gym
            here = self._pos[:, i]
            here_flat = off + here
            target_flat = off + MOVE[here * N_ACTIONS + moves[:, i]]
            free = grid[target_flat] == FREE  # False for NOOP / blocked moves: the agent's own cell
            new_flat = np.where(free, target_flat, here_flat)
            grid[here_flat] = FREE
            grid[new_flat] = self._codes[i]
            self._pos[:, i] = new_flat - off
        arrived_now = (self._pos == self._targets) & ~self._arrived
        rewards: NDArray[np.floating[Any]] = np.where(arrived_now, self._arrive_r, self._step_r)
        self._arrived |= arrived_now
        game_over = cast(NDArray[np.bool_], self._arrived.all(axis=1))
        return rewards, self._arrived, game_over

    def _observe(self) -> NDArray[np.float32]:
        return POSITION[self._pos]

    def _info(self) -> dict[str, NDArray[Any]]:
        return {"arrived": self._arrived.copy()}

    def render_rgb(self, env_index: int = 0) -> NDArray[np.uint8]:
        """Walls dark, targets tinted in their agent's colour, phantoms grey, arrived agents ringed."""
        e = self._check_env_index(env_index)
        img = drawing.blank(ROWS, COLS)
        for r, c in WALLS:
            drawing.fill_cell(img, r, c, drawing.WALL)
        for i in range(self.n_agents):
            r, c = TARGETS[i]
            color = drawing.AGENT_COLORS[i]
            drawing.fill_cell(img, r, c, drawing.tint(color, 0.65))
            drawing.digit(img, r, c, i, drawing.tint(color, 0.2), scale=2)
        if self.phantom_blockers:
            for k in range(self.n_agents, MAX_AGENTS):
                r, c = STARTS[k]
                drawing.disc(img, r, c, drawing.PHANTOM, 0.3)
        for i in range(self.n_agents):
            r, c = divmod(int(self._pos[e, i]), COLS)
            drawing.agent(img, r, c, i, finished=bool(self._arrived[e, i]))
        return img
