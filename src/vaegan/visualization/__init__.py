"""Visualization: what a run shows a person.

- ``grids.py``: image grids (3-D volumes as three orthogonal slices), saved as PNG.
- ``curves.py``: training curves, one panel per loss term, train and validation, or chosen
  terms grouped (``panel_curves``);
  ``read_history`` reads ``metrics.csv`` back.
- ``figures.py``: matplotlib helpers: an image grid on labelled axes (``image_grid``: as a titled
  figure), a row of titled images,
  a run's last-epoch grids side by side, saving.
- ``codes.py``: a model's latent codes read through its capabilities: encoding a
  dataset, ranking dimensions by KL, decoding, soft class labels.
- ``traversal.py``: latent traversals and the 2-D manifold grid.
- ``scatter.py``: codes projected by PCA, t-SNE or UMAP, coloured by class.
- ``interpolation.py``: linear and spherical paths, class interpolation.
- ``latent.py``: ``latent_figures``: every figure a model supports, into ``RUN/latent/``.
- ``report.py`` (+ ``templates/report.html.j2``): ``RUN/report.html``, one self-contained page.
- ``report_tables.py``: the page's tables (metrics, evaluation) and how it writes values and paths.
- ``report_figures.py``: the page's images (per-epoch grids, latent figures, disease maps), captioned.
- ``disease_effects.py``: disease-effect maps of conditional models (decode a CN code as AD and
  as CN; residual counterfactuals), and their correlation with a map.
- ``disease_maps.py``: the group map scored against true atrophy, beside the raw group difference.
- ``subject_maps.py``: each disease subject's own map scored against its own atrophy, and the
  ceiling of a perfect model (each subject's healthy twin).
- ``disease_codes.py``: whether a latent code carries the diagnosis (AD-vs-CN AUC on the codes).
- ``intervals.py``: jackknife intervals over subjects for the maps' r and the codes' AUC.
- ``brain.py``: nilearn figures of those maps (imported on use: nilearn is slow to import).
- ``effect_files.py``: those maps and figures written as files (NIfTI on the MNI grid, PNG, a JSON
  summary): what ``vaegan effects`` writes.

The training callbacks that draw these each epoch live in :mod:`vaegan.training.callbacks`.
"""

from vaegan.visualization.curves import panel_curves, plot_curves, read_history
from vaegan.visualization.figures import epoch_grids, image_grid
from vaegan.visualization.grids import layout_grid, make_grid, save_grid
from vaegan.visualization.interpolation import lerp, slerp
from vaegan.visualization.latent import latent_figures
from vaegan.visualization.report import write_report
from vaegan.visualization.scatter import embed, plot_embedding
from vaegan.visualization.traversal import plot_manifold, plot_traversal

__all__ = [
    "embed",
    "epoch_grids",
    "image_grid",
    "latent_figures",
    "lerp",
    "layout_grid",
    "make_grid",
    "panel_curves",
    "plot_curves",
    "plot_embedding",
    "plot_manifold",
    "plot_traversal",
    "read_history",
    "save_grid",
    "slerp",
    "write_report",
]
