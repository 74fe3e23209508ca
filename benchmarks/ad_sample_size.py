"""How many subjects does a group map need? The voxel-wise group difference of fewer and more of them.

    python benchmarks/ad_sample_size.py --config configs/ad_cvae_3d.yaml --bspline 3
    python benchmarks/ad_sample_size.py --config configs/ad_cvae_2d.yaml

For n subjects drawn from the non-test subjects (CN and AD in the proportion of all of them;
``--repeats`` draws per n), the mean AD image minus the mean CN image is scored as a model's group
map is (``summarize_effects``: Pearson r with the test AD subjects' mean true atrophy, inside the
test CN subjects' brain). A group difference is the true effect plus the subjects' variability
averaged over n, so its squared correlation falls with 1/n as 1/r^2 = a + b/n; least squares on the
mean 1/r^2 of each n gives r with unlimited subjects, 1/sqrt(a), and the n a target r needs,
b / (1/r^2 - a). A model trained on the same subjects and no prior knowledge of the effect is
bound by the same noise: the figures say what its data allow (benchmarks/ad_effects.md).

Below the table, the individual maps' floor: every test AD subject handed the non-test subjects' group
difference as its own map (``group_difference_maps``), its median r with each subject's own atrophy.

Rows: the volumes as the models read them; left-right symmetrised (each map averaged with its
mirror image, the mirror axis found from the mean brain); and with ``--bspline M`` (3-D) every
volume first warped onto the non-test subjects' mean brain by a B-spline of M^3 control-point
cells (SimpleITK, mean squares, LBFGS-B), as a nonlinear registration would. About 1 s a volume.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
import torch

from vaegan.config import load_config
from vaegan.data.mri import phantom_folder, read_volumes, split_subjects
from vaegan.data.phantoms import ATROPHY_SUFFIX
from vaegan.visualization.disease_maps import images_and_maps
from vaegan.visualization.subject_maps import group_difference_maps


def group_r(images: np.ndarray, labels: np.ndarray, truth: np.ndarray) -> float:
    """r of -(mean disease image - mean control image) with ``truth``; images (N, V), labels 0/1 (N,)."""
    effect = images[labels == 1].mean(0) - images[labels == 0].mean(0)
    return float(np.corrcoef(-effect, truth)[0, 1])


def sample_size_curve(
    images: np.ndarray, labels: np.ndarray, truth: np.ndarray, sizes: list[int], repeats: int, seed: int = 0
) -> dict:
    """Mean r of the group difference of ``sizes`` subjects (stratified draws), and the 1/r^2 = a + b/n fit.

    Returns ``{"r": {n: mean r}, "a": a, "b": b, "r_limit": 1/sqrt(a)}`` (``r_limit`` NaN where a <= 0).
    """
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(labels == c) for c in (0, 1)]
    mean_r, inverse = {}, []
    for n in sizes:
        draws = 1 if n >= len(labels) else repeats
        rs = []
        for _ in range(draws):
            picked = [rng.permutation(g)[: max(1, round(n * len(g) / len(labels)))] for g in groups]
            chosen = np.concatenate(picked)
            rs.append(group_r(images[chosen], labels[chosen], truth))
        mean_r[n] = float(np.mean(rs))
        inverse.append(float(np.mean(1.0 / np.square(rs))))
    b, a = np.polyfit(1.0 / np.asarray(sizes, float), inverse, 1)
    return {"r": mean_r, "a": float(a), "b": float(b), "r_limit": float(1 / np.sqrt(a)) if a > 0 else float("nan")}


def subjects_needed(fit: dict, target: float) -> float:
    """The n at which the fitted curve reaches r = ``target`` (inf where even unlimited subjects fall short)."""
    room = 1.0 / target**2 - fit["a"]
    return fit["b"] / room if room > 0 else float("inf")


def mirror(mean: np.ndarray) -> tuple[int, int]:
    """(axis, shift) of the left-right mirror of ``mean`` (P, *S), the axis counted in it: flipping that
    spatial axis and rolling by the shift matches it best. Raises ValueError where no axis mirrors the
    brain (r < 0.95)."""
    scores = {
        (axis, shift): np.corrcoef(mean.ravel(), np.roll(np.flip(mean, axis), shift, axis).ravel())[0, 1]
        for axis in range(1, mean.ndim)
        for shift in (-1, 0, 1)
    }
    best = max(scores, key=scores.get)
    if scores[best] < 0.95:
        raise ValueError(f"no axis mirrors the mean brain (best r {scores[best]:.2f}); are the images registered?")
    return best


def symmetrised(images: np.ndarray, axis: int, shift: int) -> np.ndarray:
    """Each of ``images`` (N, P, *S) averaged with its mirror image (``axis`` counted in (P, *S))."""
    return (images + np.roll(np.flip(images, axis + 1), shift, axis + 1)) / 2


def bspline_warped(volumes: np.ndarray, maps: np.ndarray, target: np.ndarray, mesh: int) -> tuple[np.ndarray, ...]:
    """Every volume (N, D, H, W) and its map warped onto ``target`` by a B-spline fitted to the volume."""
    import SimpleITK as sitk

    fixed = sitk.GetImageFromArray(target.astype(np.float32))
    out_volumes, out_maps = np.empty_like(volumes), np.empty_like(maps)
    for i, (volume, truth) in enumerate(zip(volumes, maps)):
        transform = sitk.BSplineTransformInitializer(fixed, [mesh] * 3)
        method = sitk.ImageRegistrationMethod()
        method.SetMetricAsMeanSquares()
        method.SetOptimizerAsLBFGSB(gradientConvergenceTolerance=1e-5, numberOfIterations=30)
        method.SetInterpolator(sitk.sitkLinear)
        method.SetShrinkFactorsPerLevel([4, 2])
        method.SetSmoothingSigmasPerLevel([2, 1])
        method.SetInitialTransform(transform, inPlace=True)
        method.Execute(fixed, sitk.GetImageFromArray(volume.astype(np.float32)))
        for array, out in ((volume, out_volumes), (truth, out_maps)):
            moved = sitk.Resample(sitk.GetImageFromArray(array.astype(np.float32)), fixed, transform, sitk.sitkLinear)
            out[i] = sitk.GetArrayFromImage(moved)
    return out_volumes, out_maps


def rows(images: np.ndarray, maps: np.ndarray, labels: np.ndarray, test: np.ndarray, sizes, repeats: int) -> dict:
    """{row name: (fit, the test subjects' own r)} for ``images``/``maps`` (N, P, *S), as read and
    left-right symmetrised; ``sizes`` of non-test subjects, all of them last."""
    brain = images[test & (labels == 0)].mean(0) > 0.1
    truth = maps[test & (labels == 1)].mean(0)[brain]
    known = ~test
    out = {}
    axis, shift = mirror(images[known].mean(0))
    for name, data in (("as read", images), ("left-right symmetrised", symmetrised(images, axis, shift))):
        flat = data[:, brain]
        fit = sample_size_curve(flat[known], labels[known], truth, sizes, repeats)
        out[name] = (fit, group_r(flat[test], labels[test], truth))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/ad_cvae_3d.yaml", help="an AD config (its data section)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--sizes", nargs="+", type=int, default=[40, 80, 120], help="plus all non-test subjects")
    parser.add_argument("--repeats", type=int, default=20, help="random draws per size")
    parser.add_argument("--targets", nargs="+", type=float, default=[0.80, 0.85])
    parser.add_argument("--bspline", type=int, default=0, help="3-D: also a row warped by M^3 B-spline cells")
    args = parser.parse_args(argv)
    config = load_config(args.config, [*args.overrides, "data.mri.progress=false"])
    mri = config.data.mri
    volumes = read_volumes(phantom_folder(mri), mri.model_copy(update={"layout": "bids"}), maps_suffix=ATROPHY_SUFFIX)
    test = split_subjects(volumes.subjects, volumes.labels, mri.test_size).numpy()  # the loader's split
    labels = volumes.labels.numpy()
    images, maps, _, _ = images_and_maps(volumes, mri, 0, 1)  # (N, P, 1, *S)
    images, maps = images[:, :, 0].numpy(), maps[:, :, 0].numpy()
    sizes = [*args.sizes, int((~test).sum())]
    found = rows(images, maps, labels, test, sizes, args.repeats)
    if args.bspline:
        if mri.spatial_dims != 3:
            parser.error("--bspline warps 3-D volumes; use a 3-D config")
        start = time.perf_counter()
        vols, truths = volumes.volumes[:, 0].numpy(), volumes.maps[:, 0].numpy()
        warped = bspline_warped(vols, truths, vols[~test].mean(0), args.bspline)
        seconds = (time.perf_counter() - start) / len(vols)
        for name, value in rows(warped[0][:, None], warped[1][:, None], labels, test, sizes, args.repeats).items():
            found[f"B-spline {args.bspline}^3 ({seconds:.1f} s a volume), {name}"] = value
    print(f"{config.name}: {int(test.sum())} test subjects, group difference of n non-test subjects (mean r)\n")
    head = " | ".join(f"n = {n}" for n in sizes)
    need = " | ".join(f"n for r {t:.2f}" for t in args.targets)
    print(f"| data | test subjects' own difference | {head} | r, unlimited n (fit) | {need} |")
    print("|---|" + "---|" * (len(sizes) + 2 + len(args.targets)))
    for name, (fit, raw) in found.items():
        cells = " | ".join(f"{fit['r'][n]:.3f}" for n in sizes)
        needed = " | ".join(
            f"{n:.0f}" if np.isfinite(n) else "never" for n in map(partial(subjects_needed, fit), args.targets)
        )
        print(f"| {name} | {raw:.3f} | {cells} | {fit['r_limit']:.3f} | {needed} |")
    held = torch.as_tensor(test)
    floor = group_difference_maps(volumes.select(held), volumes.select(~held), mri)
    low, median, high = floor.quartiles()
    print(
        f"\nEvery test AD subject handed the {int((~test).sum())} non-test subjects' group difference as its own "
        f"map: individual r median {median:.3f} [IQR {low:.3f}, {high:.3f}]"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
