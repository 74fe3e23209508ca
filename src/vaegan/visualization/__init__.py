"""Visualization: what a run shows a person.

- ``grids.py``: image grids (3-D volumes as three orthogonal slices), saved as PNG.
- ``curves.py``: training curves, one panel per loss term, train and validation.
"""

from vaegan.visualization.curves import plot_curves
from vaegan.visualization.grids import make_grid, save_grid

__all__ = ["make_grid", "plot_curves", "save_grid"]
