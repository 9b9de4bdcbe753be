"""Datasets: the :class:`PoseSet` interface, the embedded benchmark, the renderer and the readers."""
from .dataset import PoseSet, concat

__all__ = ["PoseSet", "concat"]
