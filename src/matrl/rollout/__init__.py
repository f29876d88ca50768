"""Trajectory collection behind one interface: local vectorised now, distributed workers later."""

from matrl.rollout.base import ActFn, Batch, Collector
from matrl.rollout.local import LocalCollector

__all__ = ["ActFn", "Batch", "Collector", "LocalCollector"]
