"""Brain figures drawn with nilearn: a model's disease-effect map beside the true atrophy.

Maps live in the model's image space (see :mod:`vaegan.data.mri_transforms`):
3-D volumes, or for 2-D models the stack of slices, put back together as a
slab so that nilearn can draw it at the slices' own positions. Registered
scans are drawn in MNI152 mm (their ``grid``); others at the nominal ``data.mri.spacing``.

Example:
    >>> summary = summarize_effects(cvae, test_volumes, cfg.data.mri)  # doctest: +SKIP
    >>> plot_effect_maps(summary, cfg.data.mri, "effects.png")  # doctest: +SKIP
    PosixPath('effects.png')
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from matplotlib.figure import Figure  # the object API: the caller's backend (a notebook's inline one) stays
from torch import Tensor

from vaegan.data.anatomy import HIPPOCAMPI
from vaegan.visualization.figures import save_figure

if TYPE_CHECKING:
    from collections.abc import Sequence

    import nibabel as nib

    from vaegan.data.config import MRIConfig
    from vaegan.visualization.disease_maps import EffectSummary
    from vaegan.visualization.subject_maps import IndividualMaps

DISPLAY_MODES = {"axial": "z", "coronal": "y", "sagittal": "x"}
# the left hippocampus's centre in MNI152 mm (the phantoms'): a cut point for AD's maps of registered scans,
# whose largest cluster (nilearn's default cut) is the ventricles, on the midline
HIPPOCAMPUS_MNI = HIPPOCAMPI[0]


def map_to_nifti(maps: Tensor, options: MRIConfig, grid: np.ndarray | None = None) -> nib.Nifti1Image:
    """Maps (P, 1, *S) as one NIfTI volume: the volume itself (3-D), or the slab of P slices (2-D).

    ``grid``: the volumes' voxel -> MNI152 mm affine (registered scans), written as an MNI152 affine
    (sform and qform code 4, so viewers say so); else the volume's nominal millimetres (origin at its centre).
    """
    from vaegan.data.volumes import from_slices, nominal_grid, slab_affine, slice_positions, to_nifti

    spacing = options.spacing
    if options.spatial_dims == 3:
        return to_nifti(maps[0, 0], (spacing,) * 3, affine=grid)  # marked MNI where on the template grid
    slab = from_slices(maps, options.slice_axis)[0]  # (D, H, W) with P planes along the slice axis
    first = int(slice_positions(options.size, options.slice_range, options.slice_step)[0])
    volume = grid if grid is not None else nominal_grid((options.size,) * 3, spacing)  # the volume's, not the slab's
    affine = slab_affine(volume, options.slice_axis, first, options.slice_step)
    return to_nifti(slab, affine=affine, mni=grid is not None)


def _cuts(
    image: nib.Nifti1Image, options: MRIConfig, count: int, at: Sequence[float] | None = None
) -> tuple[str, list[float] | None]:
    """nilearn display mode and cut coordinates (mm).

    2-D: up to ``count`` of the slab's planes; 3-D: the orthogonal planes through ``at`` (x, y, z mm), else
    through the map's largest cluster (nilearn's choice: for AD's maps the ventricles, on the midline).

    Raises:
        ValueError: ``at`` for a 2-D map (its figures show its own slices), or outside the maps' volume.
    """
    if options.spatial_dims == 3:
        from nilearn.plotting import find_xyz_cut_coords

        if at is None:
            return "ortho", list(find_xyz_cut_coords(image))
        return "ortho", _inside(image, at)
    if at is not None:
        raise ValueError("a cut point is for 3-D maps; a 2-D model's figures show the slices it was trained on")
    axis = "xyz".index(DISPLAY_MODES[options.slice_axis])
    planes = image.shape[axis]
    picks = np.unique(np.linspace(0, planes - 1, min(count, planes)).round().astype(int))
    millimetres = [float(image.affine[axis, axis] * p + image.affine[axis, 3]) for p in picks]
    return DISPLAY_MODES[options.slice_axis], millimetres


def check_cut(at: Sequence[float], options: MRIConfig, grid: np.ndarray | None = None) -> list[float]:
    """``at`` (x, y, z mm) as the figures of maps of ``options`` on ``grid`` would cut through it.

    Raises:
        ValueError: for a 2-D model, or a point outside the volume.
    """
    blank = torch.zeros(1, 1, *(options.size,) * options.spatial_dims)
    return _cuts(map_to_nifti(blank, options, grid), options, 1, at)[1]


def _inside(image: nib.Nifti1Image, at: Sequence[float]) -> list[float]:
    """``at`` as a list of three mm coordinates, checked to lie in ``image``'s volume (voxel centres)."""
    point = [float(v) for v in at]
    if len(point) != 3:
        raise ValueError(f"a cut point has three coordinates (x, y, z mm), not {len(point)}")
    corners = np.array(
        [[i, j, k] for i in (0, image.shape[0] - 1) for j in (0, image.shape[1] - 1) for k in (0, image.shape[2] - 1)],
        dtype=float,
    )
    mm = corners @ image.affine[:3, :3].T + image.affine[:3, 3]
    low, high = mm.min(0), mm.max(0)
    if any(not lo <= v <= hi for v, lo, hi in zip(point, low, high)):
        box = ", ".join(f"{axis} {lo:.0f} to {hi:.0f}" for axis, lo, hi in zip("xyz", low, high))
        raise ValueError(f"cut point ({', '.join(f'{v:g}' for v in point)}) mm lies outside the maps' volume: {box} mm")
    return point


def plot_effect_maps(
    summary: EffectSummary,
    options: MRIConfig,
    path: str | Path,
    *,
    title: str = "",
    cuts: int = 5,
    names: tuple[str, str] = ("CN", "AD"),
    cut: Sequence[float] | None = None,
) -> Path:
    """Three rows over the mean control anatomy: the model's map, the true atrophy, the raw group difference.

    The model's map and the group difference are drawn as intensity *loss*
    (control minus disease, so tissue loss is positive, like the true atrophy). Scans
    without a true atrophy: two rows, cut (3-D) where the model's map is, or through ``cut`` (x, y, z mm:
    e.g. a hippocampus, MNI152 (-26, -22, -13), which the largest cluster's planes miss).
    ``names``: (control, disease).
    """
    control, disease = names
    rows = [
        (
            -summary.effect,
            f"model: decode(z, {disease}) vs decode(z, {control}), intensity loss{_r(summary.r_model)}; each row "
            f"over the mean {control} image",
            INTENSITY,
        ),
        (
            -summary.group_difference,
            f"raw group difference, mean {control} - mean {disease}{_r(summary.r_group)}",
            INTENSITY,
        ),
    ]
    if summary.truth is not None:
        rows.insert(1, (summary.truth, f"true atrophy (mean of {disease} subjects): {REMOVED}", FRACTION))
    return _plot_rows(
        rows,
        summary.anatomy,
        _cut_map(summary.truth, -summary.effect),
        options,
        path,
        title=title,
        cuts=cuts,
        grid=summary.grid,
        cut=cut,
    )


def _r(value: float) -> str:
    """`` (r = 0.61)`` for a scored map; nothing where there was no truth to score it against."""
    return "" if value != value else f" (r = {value:.2f})"


def _cut_map(truth: Tensor | None, drawn: Tensor) -> Tensor:
    """Where to cut: at the true atrophy, or where the drawn map is (scans, or subjects with none)."""
    return truth if truth is not None and bool(truth.abs().max() > 0) else drawn.abs()


def plot_individual_maps(
    maps: IndividualMaps,
    options: MRIConfig,
    path: str | Path,
    *,
    subjects: int = 3,
    title: str = "",
    cuts: int = 5,
    names: tuple[str, str] = ("CN", "AD"),
    scans: list[str] | None = None,
    cut: Sequence[float] | None = None,
) -> Path:
    """For the first ``subjects`` disease subjects: their counterfactual map, then their own true atrophy.

    Each row drawn over its subject's own image, all cut (3-D) where their mean true atrophy is (scans
    without one: where their mean map is, and no truth rows); the map is intensity *loss* (counterfactual
    control minus the subject), like the true atrophy; ``scaled`` maps (``maps.amounts``) say so and each
    subject's amount. ``names``: (control, disease); ``scans``: a title per map (e.g. subject and session),
    else the subject ids; ``cut``: (x, y, z) mm the 3-D rows are cut through instead.
    """
    rows, anatomy = [], []  # anatomy: each row's background, its subject's own image
    titles = scans if scans is not None else maps.subjects
    for i, (name, loss, r) in enumerate(list(zip(titles, maps.loss, maps.r.tolist()))[:subjects]):
        own = maps.images[i]  # one object for both rows: converted to NIfTI once
        scaled = "" if maps.amounts is None else _amount(float(maps.amounts[i]), names[1])
        rows.append((loss, f"{name}: as {names[0]} minus as observed{scaled}, intensity loss{_r(r)}", INTENSITY))
        anatomy.append(own)
        if maps.truth is not None:
            rows.append((maps.truth[i], f"{name}: own true atrophy, {REMOVED}", FRACTION))
            anatomy.append(own)
    cut_map = _cut_map(None if maps.truth is None else maps.truth.mean(0), maps.loss.mean(0))
    return _plot_rows(rows, anatomy, cut_map, options, path, title=title, cuts=cuts, grid=maps.grid, cut=cut)


def _amount(amount: float, disease: str) -> str:
    """``, scaled: its amount of AD 2.00 (the top of those searched)``: a --scaled map's title part."""
    from vaegan.visualization.subject_maps import amount_bound

    end = amount_bound(amount)
    return f", scaled: its amount of {disease} {amount:.2f}{f' (the {end} of those searched)' if end else ''}"


INTENSITY, FRACTION = "intensity loss", "tissue-fraction"  # the units rows are drawn in
REMOVED = "the tissue the disease removed, as a fraction of each voxel"  # what a phantom's truth map holds


def row_peaks(rows: list[tuple[Tensor, str]]) -> list[float]:
    """The colour limit of each (map, unit) row: the 99.9th percentile of |map| over every row of its unit,
    so that rows of one unit compare by colour (a few extreme voxels would wash out the rest); 1 for zeros."""
    peaks = {}
    for unit in {unit for _, unit in rows}:
        values = torch.cat([m.abs().flatten().float() for m, u in rows if u == unit])
        # numpy's: torch.quantile refuses over 2**24 values (a few 3-D maps at 178^3, a 2-D slab at 256^2)
        peak = float(np.nanquantile(values.numpy(), 0.999)) if len(values) else 0.0
        peaks[unit] = peak if np.isfinite(peak) and peak > 0 else 1.0
    return [peaks[unit] for _, unit in rows]


def _plot_rows(
    rows: list[tuple[Tensor, str, str]],
    anatomy: Tensor | list[Tensor],
    cut_map: Tensor,
    options: MRIConfig,
    path: str | Path,
    *,
    title: str,
    cuts: int,
    grid: np.ndarray | None,
    cut: Sequence[float] | None = None,
) -> Path:
    """One nilearn stat map per (map, title, unit) row over ``anatomy`` (one image for every row, or a list
    of one per row), all cut at the same places (maps
    (P, 1, *S)): volumes through ``cut`` or else ``cut_map``'s largest cluster, 2-D slabs at evenly spaced planes
    (:func:`_cuts`); rows of one unit share one colour scale (:func:`row_peaks`), except a row whose map lies
    wholly under that scale's threshold, drawn on its own scale and said so in its title.

    Drawn as nilearn draws: neurological orientation (the subject's left on the left, lettered L/R);
    cut positions in MNI152 mm with a ``grid`` (registered scans), else nominal mm."""
    from nilearn import plotting

    anatomy = anatomy if isinstance(anatomy, list) else [anatomy] * len(rows)
    backgrounds = {id(image): map_to_nifti(image, options, grid) for image in anatomy}  # each image once
    mode, coords = _cuts(map_to_nifti(cut_map, options, grid), options, cuts, cut)  # the same cuts in every row
    fig = Figure(figsize=(11, 3.0 * len(rows)), facecolor="black")
    axes = fig.subplots(len(rows), 1, squeeze=False, gridspec_kw={"hspace": 0.45})
    peaks = row_peaks([(maps, unit) for maps, _, unit in rows])
    shared = {unit: sum(u == unit for _, _, u in rows) > 1 for _, _, unit in rows}
    for ax, (maps, label, unit), peak, background in zip(axes[:, 0], rows, peaks, anatomy):
        image = map_to_nifti(maps, options, grid)
        size = maps.abs().flatten().float()
        over = f"every {unit} row's |map|" if shared[unit] else "|map|"
        most = float(size.max())
        if 0 < most < 0.1 * peak:  # all of it under the shared threshold: a blank row reads as "found nothing"
            shared_peak, peak = peak, row_peaks([(maps, unit)])[0]
            label += (
                f"\ncolours to ±{peak:.2g} (99.9th percentile of |map|; max here {most:.2g}), hidden below 10%\n"
                f"drawn on its own scale: on the ±{shared_peak:.2g} of the other {unit} rows all of it would be "
                f"hidden (under {0.1 * shared_peak:.2g})"
            )
        else:
            label += f"\ncolours to ±{peak:.2g} (99.9th percentile of {over}; max here {most:.2g}), hidden below 10%"
        if not bool(size.max() > 0):  # e.g. the true atrophy of controls: the anatomy alone, said in the title
            label += " (the map is 0 everywhere)"
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "empty mask", UserWarning)  # nilearn's word for a map all 0
            _stat_map(plotting, image, backgrounds[id(background)], mode, coords, ax, peak)
        ax.set_title(label, color="white", fontsize=10, loc="left")  # above the slices, not over them
    if title:  # above the first row's title, however many lines each has (the saved PNG grows to hold it)
        lines = axes[0, 0].get_title(loc="left").count("\n") + 1
        above = (6 + 12.5 * lines + 8) / 72  # inches: the row title's pad, its lines of 10 pt, a gap
        fig.suptitle(title, color="white", y=fig.subplotpars.top + above / fig.get_figheight(), va="bottom")
    return save_figure(fig, path)


def _stat_map(plotting, image, background, mode: str, coords, ax, peak: float) -> None:
    """One row: the map over the anatomy, symmetric colours to ``peak``, hidden below 10 % of it.

    The colour bar is ours (:func:`_colour_bar`), right of the row: nilearn's sits inside it with its labels
    on the left, over the last of five slices, and its ±threshold labels one almost on the other."""
    plotting.plot_stat_map(
        image,
        bg_img=background,
        display_mode=mode,
        cut_coords=coords,
        axes=ax,
        cmap=CMAP,
        colorbar=False,
        symmetric_cbar=True,
        vmax=peak,
        threshold=0.1 * peak,
        black_bg=True,
        dim=0,
        annotate=True,  # L/R letters (neurological: the subject's left on the left) and cut positions
        draw_cross=False,
    )
    _colour_bar(ax, peak, 0.1 * peak)


CMAP, HIDDEN = "cold_hot", (0.5, 0.5, 0.5, 1.0)  # the maps' colours; the grey of what is hidden (nilearn's)


def _colour_bar(ax, peak: float, threshold: float) -> None:
    """The row's colour bar just right of ``ax``, labelled on its right: ±``peak``, half of it, and one
    ``±threshold`` at 0, the middle of the grey band hidden on the slices."""
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    cmap = matplotlib.colormaps[CMAP]  # registered by nilearn.plotting
    colours = cmap(np.linspace(0, 1, cmap.N))
    colours[np.abs(np.linspace(-peak, peak, cmap.N)) < threshold] = HIDDEN
    fig, box = ax.get_figure(), ax.get_position()
    inches = 1 / fig.get_figwidth()  # one inch in figure fractions
    cax = fig.add_axes((box.x1 + 0.08 * inches, box.y0 + 0.05 * box.height, 0.1 * inches, 0.9 * box.height))
    bar = fig.colorbar(ScalarMappable(Normalize(-peak, peak), ListedColormap(colours)), cax=cax)
    bar.set_ticks([-peak, -peak / 2, 0, peak / 2, peak])
    bar.set_ticklabels([f"{-peak:.2g}", f"{-peak / 2:.2g}", f"±{threshold:.2g}", f"{peak / 2:.2g}", f"{peak:.2g}"])
    cax.yaxis.set_ticks_position("right")
    cax.tick_params(axis="y", width=0, colors="white")
    bar.outline.set_edgecolor("white")
