"""Where a disease map falls short of the true atrophy: at the brain's edge, or deeper?

    python benchmarks/ad_edge.py outputs/ad_cvae_3d/effects            # what `vaegan effects` wrote
    python benchmarks/ad_edge.py outputs/ad_cvae_3d/effects --edge-mm 4

Reads a phantom run's ``vaegan effects`` folder (``true_atrophy``, ``mean_control``, ``group_effect``,
``group_difference`` and each disease scan's ``*_loss`` map, as NIfTI) and scores each map against the
mean true atrophy (Pearson r, inside the brain as the maps are scored: mean control image > 0.1) in two
bands: the outer ``--edge-mm`` of the brain (its distance from the outside, in mm of the maps' grid),
where the cortex thins from outside, and the rest, where the ventricles grow and the hippocampi shrink.
Each band's share of the atrophy says how much of the whole r it carries. The reference is the raw group
difference of the same subjects, as in benchmarks/ad_effects.md: ``model - raw`` per band.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage


def bands(brain: np.ndarray, zooms: tuple[float, ...], edge_mm: float) -> dict[str, np.ndarray]:
    """The brain's voxels within ``edge_mm`` of its outside, the deeper ones, and all of them."""
    depth = ndimage.distance_transform_edt(brain, sampling=zooms)
    return {f"outer {edge_mm:g} mm": brain & (depth <= edge_mm), "deeper": brain & (depth > edge_mm), "all": brain}


def edge_table(folder: Path, edge_mm: float = 6.0) -> list[dict]:
    """One row per band: voxels, the share of the atrophy in it, r of each map against the truth there."""
    record = json.loads((folder / "effects.json").read_text())

    def read(name: str) -> np.ndarray:
        return np.asarray(nib.load(folder / f"{name}.nii.gz").dataobj, dtype=np.float64)

    if not (folder / "true_atrophy.nii.gz").is_file():
        raise SystemExit(f"ad_edge.py: {folder} has no true_atrophy.nii.gz: maps of scans (not phantoms), no truth")
    truth, anatomy = read("true_atrophy"), read("mean_control")
    maps = {
        "model (group map)": read("group_effect"),
        "mean of the individual maps": np.mean([read(f"{row['scan']}_loss") for row in record["scans"]], axis=0),
        "raw group difference": read("group_difference"),
    }
    zooms = nib.load(folder / "true_atrophy.nii.gz").header.get_zooms()[:3]
    rows = []
    for band, mask in bands(anatomy > 0.1, tuple(float(z) for z in zooms), edge_mm).items():
        row = {"band": band, "voxels": int(mask.sum()), "share": float(truth[mask].sum() / truth[anatomy > 0.1].sum())}
        row |= {name: float(np.corrcoef(image[mask], truth[mask])[0, 1]) for name, image in maps.items()}
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a phantom run's `vaegan effects` folder (RUN/effects)")
    parser.add_argument("--edge-mm", type=float, default=6.0, help="the outer band's depth (mm)")
    args = parser.parse_args(argv)
    if args.edge_mm <= 0:
        parser.error(f"--edge-mm {args.edge_mm}: a depth in mm, above 0")
    rows = edge_table(args.folder, args.edge_mm)
    names = [key for key in rows[0] if key not in ("band", "voxels", "share")]
    print(f"r against the mean true atrophy, {args.folder}:")
    print(f"| band | voxels | share of the atrophy | {' | '.join(names)} | model - raw |")
    print("|---|---|---|" + "---|" * (len(names) + 1))
    for row in rows:
        figures = " | ".join(f"{row[name]:.2f}" for name in names)
        print(
            f"| {row['band']} | {row['voxels']:,} | {row['share']:.2f} | {figures} | "
            f"{row['model (group map)'] - row['raw group difference']:+.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
