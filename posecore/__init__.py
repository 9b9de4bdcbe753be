"""posecore: a thin library for monocular 3D human pose estimation, backing the posecore book.

Modules: :mod:`skeleton` (joint layouts), :mod:`camera` (projection), :mod:`metrics`,
:mod:`viz` (Plotly / matplotlib skeletons), :mod:`train` (the training loop), :mod:`profiles`,
:mod:`results`, :mod:`data` (dataset interface, embedded benchmark, renderer, readers),
:mod:`models` (one file per paper).
"""
__version__ = "0.1.0"
