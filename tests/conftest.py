"""Shared test settings: hypothesis runs derandomised so that the suite gives the same result every time.

Set HYPOTHESIS_PROFILE=explore to search with fresh random examples instead.
"""

from __future__ import annotations

import os

import matplotlib
import torch
from hypothesis import settings

matplotlib.use("Agg")

settings.register_profile("deterministic", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

# One torch thread per test process: the suite runs under xdist, and small networks gain nothing from more.
torch.set_num_threads(1)
