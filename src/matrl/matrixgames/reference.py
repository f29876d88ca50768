"""Published and measured numbers the study is compared with: (convergence rate, mean steps) per cell."""

from __future__ import annotations

from typing import Final

Cell = tuple[str, str]  # (category, algorithm)

#: The paper's Table 1 ("1000 random 2x2 matrix games"); no WoLF row.
PAPER_TABLE1: Final[dict[Cell, tuple[float, float]]] = {
    ("coordination", "IGA"): (0.99, 140.67),
    ("coordination", "IGA-PP"): (0.99, 138.56),
    ("coordination", "MATRL"): (0.99, 86.54),
    ("anti-coordination", "IGA"): (0.975, 88.95),
    ("anti-coordination", "IGA-PP"): (0.975, 83.11),
    ("anti-coordination", "MATRL"): (0.9825, 75.52),
    ("cyclic", "IGA"): (0.78, 452.92),
    ("cyclic", "IGA-PP"): (0.809, 432.98),
    ("cyclic", "MATRL"): (0.846, 369.40),
}

#: What the official code prints (200 games per category, rate divided by the games WoLF converged in).
CODE_PRINTED_200: Final[dict[Cell, tuple[float, float]]] = {
    ("coordination", "IGA"): (0.985, 132.33),
    ("coordination", "IGA-PP"): (0.985, 130.12),
    ("coordination", "WoLF"): (1.0, 66.68),
    ("coordination", "MATRL"): (0.985, 84.63),
    ("anti-coordination", "IGA"): (0.98, 79.94),
    ("anti-coordination", "IGA-PP"): (0.98, 75.65),
    ("anti-coordination", "WoLF"): (1.0, 36.32),
    ("anti-coordination", "MATRL"): (0.985, 59.53),
    ("cyclic", "IGA"): (0.8095, 430.02),
    ("cyclic", "IGA-PP"): (0.8519, 410.97),
    ("cyclic", "WoLF"): (1.0, 157.58),
    ("cyclic", "MATRL"): (0.8730, 342.34),
}

#: The official code with the true rate (converged / all games), 1000 games per category (seeds 0..999).
CODE_TRUE_1000: Final[dict[Cell, tuple[float, float]]] = {
    ("coordination", "IGA"): (0.987, 126.66),
    ("coordination", "IGA-PP"): (0.988, 125.61),
    ("coordination", "MATRL"): (0.990, 83.46),
    ("anti-coordination", "IGA"): (0.970, 96.40),
    ("anti-coordination", "IGA-PP"): (0.981, 95.28),
    ("anti-coordination", "MATRL"): (0.979, 74.65),
    ("cyclic", "IGA"): (0.752, 435.81),
    ("cyclic", "IGA-PP"): (0.797, 419.49),
    ("cyclic", "MATRL"): (0.822, 344.82),
}
