"""matrl: Multi-Agent Trust Region Learning (MATRL).

Each iteration collects data with the current policies, predicts each agent's trust-region step, solves the
2^n meta-game between current and predicted policies for a Nash equilibrium, mixes the two into a weak stable
fixed point, and takes each agent's best response to the others' mixture.
"""

__version__ = "0.1.0"
