"""Tiny numpy raster helpers for the grid-world frames (no pygame, no fonts).

Frames are drawn cell by cell onto an (H, W, 3) uint8 canvas; discs and the 3x5 digit glyphs are precomputed
boolean masks so a frame costs a few dozen slice assignments.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray

CELL = 32
Color = tuple[int, int, int]

BACKGROUND: Color = (246, 246, 240)
GRID_LINE: Color = (205, 205, 200)
WALL: Color = (55, 58, 68)
APPLE: Color = (46, 160, 67)
LEMON: Color = (242, 205, 40)
PHANTOM: Color = (150, 150, 150)
OUTLINE: Color = (25, 25, 25)
WHITE: Color = (255, 255, 255)
#: Agent colours: 0 red and 1 blue as in ma-gym, then orange and purple.
AGENT_COLORS: tuple[Color, ...] = ((214, 45, 45), (38, 92, 214), (235, 135, 0), (135, 60, 180))

# 3x5 bitmap digits, rows top to bottom.
_DIGITS = {
    0: ("111", "101", "101", "101", "111"),
    1: ("010", "110", "010", "010", "111"),
    2: ("111", "001", "111", "100", "111"),
    3: ("111", "001", "111", "001", "111"),
    4: ("101", "101", "111", "001", "001"),
    5: ("111", "100", "111", "001", "111"),
    6: ("111", "100", "111", "101", "111"),
    7: ("111", "001", "010", "010", "010"),
    8: ("111", "101", "111", "101", "111"),
    9: ("111", "101", "111", "001", "111"),
}


def tint(color: Color, amount: float) -> Color:
    """Blend ``color`` towards white (amount 0 = unchanged, 1 = white)."""
    r, g, b = (round(c + (255 - c) * amount) for c in color)
    return (r, g, b)


def blank(rows: int, cols: int, cell: int = CELL) -> NDArray[np.uint8]:
    """An empty board with thin grid lines."""
    img = np.empty((rows * cell, cols * cell, 3), dtype=np.uint8)
    img[:] = BACKGROUND
    img[::cell, :] = GRID_LINE
    img[:, ::cell] = GRID_LINE
    img[-1, :] = GRID_LINE
    img[:, -1] = GRID_LINE
    return img


def fill_cell(img: NDArray[np.uint8], row: int, col: int, color: Color, cell: int = CELL) -> None:
    """Fill one cell, keeping the grid line on its top/left edge."""
    img[row * cell + 1 : (row + 1) * cell, col * cell + 1 : (col + 1) * cell] = color


@cache
def _disc_mask(cell: int, radius_frac: float) -> NDArray[np.bool_]:
    c = (cell - 1) / 2.0
    yy, xx = np.mgrid[0:cell, 0:cell]
    return np.asarray((yy - c) ** 2 + (xx - c) ** 2 <= (radius_frac * cell) ** 2)


def disc(
    img: NDArray[np.uint8], row: int, col: int, color: Color, radius_frac: float, cell: int = CELL
) -> None:
    """Draw a filled disc centred in a cell; radius as a fraction of the cell size."""
    view = img[row * cell : (row + 1) * cell, col * cell : (col + 1) * cell]
    view[_disc_mask(cell, radius_frac)] = color


@cache
def _digit_mask(digit: int, scale: int) -> NDArray[np.bool_]:
    rows = _DIGITS[digit]
    glyph = np.array([[ch == "1" for ch in line] for line in rows], dtype=np.bool_)
    return np.kron(glyph, np.ones((scale, scale), dtype=np.bool_)).astype(np.bool_)


def digit(
    img: NDArray[np.uint8], row: int, col: int, value: int, color: Color, cell: int = CELL, scale: int = 3
) -> None:
    """Write a single digit 0-9 centred in a cell."""
    mask = _digit_mask(int(value) % 10, scale)
    h, w = mask.shape
    top = row * cell + (cell - h) // 2
    left = col * cell + (cell - w) // 2
    img[top : top + h, left : left + w][mask] = color


def agent(
    img: NDArray[np.uint8], row: int, col: int, index: int, *, finished: bool = False, cell: int = CELL
) -> None:
    """An agent: a disc in its colour with its index; a dark ring marks an agent that is done."""
    color = AGENT_COLORS[index % len(AGENT_COLORS)]
    if finished:
        disc(img, row, col, OUTLINE, 0.47, cell)
        disc(img, row, col, color, 0.37, cell)
    else:
        disc(img, row, col, color, 0.42, cell)
    digit(img, row, col, index, WHITE, cell)
