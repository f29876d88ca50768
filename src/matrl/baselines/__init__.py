"""Baselines the paper compares MATRL with, trained by the same harness (run directory, metrics, plots).

- `vdn`, `qmix`, `qtran`: centralised value decomposition for discrete actions (grid worlds);
- `maddpg`: centralised critics with deterministic actors for continuous actions (MaMuJoCo).

Each is one entry of the algorithm registry (`matrl.algos`), which builds their learners.
"""
