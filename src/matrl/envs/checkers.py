"""Checkers-v0 of ma-gym (commit 8eca34e), batched: two agents collect apples and avoid lemons on a 3x8 board.

Rules as implemented (docs/gridworlds.md, reference section 3): agents move one after the other in index
order against the board as already updated; a move into another agent (or off the board) fails; entering an
item cell eats it (agent 0: apple +5, lemon -5; agent 1: apple +1, lemon -1) on top of the step cost -0.01
paid every step; the episode ends for both agents when all 9 apples are gone (termination) or after
``max_steps`` steps (truncation). Observation: ``[round(row/3, 2), round(col/7, 2)]`` and the 3x3
neighbourhood codes (0 empty/outside, 1 lemon, 2 apple, 3 agent), row-major.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from matrl.envs import drawing
from matrl.envs.core import ACTION_DELTAS, N_ACTIONS, GridCore

ROWS, COLS = 3, 8
N_CELLS = ROWS * COLS
OUTSIDE = N_CELLS  # index of an always-empty padding cell standing for "outside the board"
EMPTY, LEMON, APPLE, AGENT = 0, 1, 2, 3
N_AGENTS = 2
STARTS: tuple[tuple[int, int], ...] = ((0, 6), (2, 6))
#: Item values per agent: agent 0 is the "sensitive" one.
APPLE_VALUES = (5.0, 1.0)
LEMON_VALUES = (-5.0, -1.0)
OBS_DIM = 11
# Upstream observation_space (ma-gym a17127d): position in [0, 1], neighbourhood codes in [-1, 3].
OBS_LOW = np.array([0.0, 0.0] + [-1.0] * 9, dtype=np.float32)
OBS_HIGH = np.array([1.0, 1.0] + [3.0] * 9, dtype=np.float32)


def _cell(row: int, col: int) -> int:
    return row * COLS + col


def inside(row: int, col: int) -> bool:
    """ma-gym's ``is_valid``: whether (row, col) lies on the board."""
    return 0 <= row < ROWS and 0 <= col < COLS


def _initial_grid() -> NDArray[np.int8]:
    """Board codes at reset, plus the padding cell: items in columns 0-5, agents in column 6."""
    grid = np.zeros(N_CELLS + 1, dtype=np.int8)
    for r in range(ROWS):
        for c in range(COLS - 2):
            grid[_cell(r, c)] = APPLE if (r + c) % 2 == 0 else LEMON
    for r, c in STARTS:
        grid[_cell(r, c)] = AGENT
    return grid


def _move_table() -> NDArray[np.intp]:
    """``table[cell * 5 + action]`` = target cell, or ``cell`` itself when the move leaves the board."""
    table = np.empty(N_CELLS * N_ACTIONS, dtype=np.intp)
    for r in range(ROWS):
        for c in range(COLS):
            for a, (dr, dc) in enumerate(ACTION_DELTAS):
                nr, nc = r + dr, c + dc
                table[_cell(r, c) * N_ACTIONS + a] = _cell(nr, nc) if inside(nr, nc) else _cell(r, c)
    return table


def _neighbour_table() -> NDArray[np.intp]:
    """``table[cell]`` = the 9 cells of the 3x3 block around ``cell`` (row-major), OUTSIDE where off-board."""
    table = np.empty((N_CELLS, 9), dtype=np.intp)
    for r in range(ROWS):
        for c in range(COLS):
            k = 0
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    nr, nc = r + dr, c + dc
                    table[_cell(r, c), k] = _cell(nr, nc) if inside(nr, nc) else OUTSIDE
                    k += 1
    return table


def _position_table() -> NDArray[np.float32]:
    """``table[cell]`` = ``[round(row / 3, 2), round(col / 7, 2)]`` (ma-gym divides the row by 3, not 2)."""
    return np.array(
        [[round(r / ROWS, 2), round(c / (COLS - 1), 2)] for r in range(ROWS) for c in range(COLS)],
        dtype=np.float32,
    )


INITIAL_GRID = _initial_grid()
MOVE = _move_table()
NEIGHBOURS = _neighbour_table()
POSITION = _position_table()
N_APPLES = int((INITIAL_GRID == APPLE).sum())
N_LEMONS = int((INITIAL_GRID == LEMON).sum())
START_CELLS = np.array([_cell(r, c) for r, c in STARTS], dtype=np.intp)


class CheckersCore(GridCore):
    """``num_envs`` copies of Checkers-v0 stepped together (see the module docstring for the rules).

    ``full_observable=True`` gives Checkers-v1 (each agent sees both agents' 11 values, 22 floats).
    ``info`` carries ``lemon_count`` and ``apple_count`` (E,), the food left after the step.
    """

    env_id = "checkers_v0"
    shape = (ROWS, COLS)
    # Board (``_grid_flat`` is a view of it), agent cells and food left: all that a step changes.
    _state_fields = ("_grid", "_pos", "_apples", "_lemons")

    def __init__(
        self,
        num_envs: int = 1,
        *,
        step_cost: float = -0.01,
        max_steps: int = 100,
        full_observable: bool = False,
        autoreset: bool = True,
        reward_dtype: DTypeLike = np.float32,
    ) -> None:
        self.step_cost = float(step_cost)
        # Reward of a step by item code entered (0 when nothing eaten), step cost included, computed in
        # float64 in the same order as ma-gym (step cost, then += item value) and only then cast.
        totals = np.zeros((N_AGENTS, 4), dtype=np.float64)
        for i in range(N_AGENTS):
            totals[i, EMPTY] = self.step_cost
            totals[i, LEMON] = self.step_cost + LEMON_VALUES[i]
            totals[i, APPLE] = self.step_cost + APPLE_VALUES[i]
            totals[i, AGENT] = self.step_cost  # unreachable: agent cells block the move
        self._totals = totals.astype(np.dtype(reward_dtype))
        super().__init__(
            num_envs,
            N_AGENTS,
            OBS_DIM,
            OBS_LOW,
            OBS_HIGH,
            max_steps=max_steps,
            full_observable=full_observable,
            autoreset=autoreset,
            reward_dtype=reward_dtype,
        )

    def _allocate(self) -> None:
        e = self.num_envs
        self._grid = np.empty((e, N_CELLS + 1), dtype=np.int8)
        self._grid_flat = self._grid.reshape(-1)
        self._offset = np.arange(e, dtype=np.intp) * (N_CELLS + 1)
        self._pos = np.empty((e, N_AGENTS), dtype=np.intp)
        self._apples = np.empty(e, dtype=np.int64)
        self._lemons = np.empty(e, dtype=np.int64)

    def _reset_state(self, mask: NDArray[np.bool_]) -> None:
        self._grid[mask] = INITIAL_GRID
        self._pos[mask] = START_CELLS
        self._apples[mask] = N_APPLES
        self._lemons[mask] = N_LEMONS

    def _advance(
        self, actions: NDArray[np.intp]
    ) -> tuple[NDArray[np.floating[Any]], NDArray[np.bool_], NDArray[np.bool_]]:
        grid, off = self._grid_flat, self._offset
        rewards = np.empty((self.num_envs, N_AGENTS), dtype=self._totals.dtype)
        for i in range(N_AGENTS):  # sequential moves in agent-index order, as in ma-gym
            here = self._pos[:, i]
            here_flat = off + here
            target_flat = off + MOVE[here * N_ACTIONS + actions[:, i]]
            code = grid[target_flat]
            free = code != AGENT  # also False for NOOP / off-board moves: the agent's own cell
            new_flat = np.where(free, target_flat, here_flat)
            eaten = code * free
            grid[here_flat] = EMPTY
            grid[new_flat] = AGENT
            self._pos[:, i] = new_flat - off
            rewards[:, i] = self._totals[i, eaten]
            self._apples -= eaten == APPLE
            self._lemons -= eaten == LEMON
        game_over = self._apples == 0
        return rewards, np.repeat(game_over[:, None], N_AGENTS, axis=1), game_over

    def _observe(self) -> NDArray[np.float32]:
        obs = np.empty((self.num_envs, N_AGENTS, OBS_DIM), dtype=np.float32)
        obs[:, :, :2] = POSITION[self._pos]
        obs[:, :, 2:] = self._grid_flat[self._offset[:, None, None] + NEIGHBOURS[self._pos]]
        return obs

    def _info(self) -> dict[str, NDArray[Any]]:
        return {"lemon_count": self._lemons.copy(), "apple_count": self._apples.copy()}

    def agent_infos(self, info: Mapping[str, NDArray[Any]], env_index: int) -> list[dict[str, Any]]:
        """ma-gym's ``{'food_count': {'lemon': .., 'apple': ..}}``, given to each agent."""
        food = {"lemon": int(info["lemon_count"][env_index]), "apple": int(info["apple_count"][env_index])}
        return [{"food_count": dict(food)} for _ in range(N_AGENTS)]

    def render_rgb(self, env_index: int = 0) -> NDArray[np.uint8]:
        """Apples green, lemons yellow, agent 0 red, agent 1 blue (numbered discs)."""
        e = self._check_env_index(env_index)
        img = drawing.blank(ROWS, COLS)
        for cell in range(N_CELLS):
            r, c = divmod(cell, COLS)
            code = int(self._grid[e, cell])
            if code == APPLE:
                drawing.disc(img, r, c, drawing.APPLE, 0.28)
            elif code == LEMON:
                drawing.disc(img, r, c, drawing.LEMON, 0.28)
        for i in range(N_AGENTS):
            r, c = divmod(int(self._pos[e, i]), COLS)
            drawing.agent(img, r, c, i)
        return img
