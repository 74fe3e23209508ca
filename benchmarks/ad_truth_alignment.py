"""What makes one AD phantom's true atrophy differ from another's: how much disease, or where the anatomy lies?

    python benchmarks/ad_truth_alignment.py            # the 200 subjects the AD configs generate

On the template grid, before each phantom's own deformation, scanner and registration, every AD
subject's true atrophy (``tissue_loss``: its severity and age on the one template anatomy) is scored
against the mean of the other AD subjects' (Pearson r inside the brain), as the individual maps' floor
scores the group difference against each subject. A median near 1 says the severity and age change
little of the pattern, and the floor's shortfall on the registered images (0.76-0.81,
benchmarks/ad_effects.md) comes from where each subject's anatomy lies after registration: what a map
has to follow to say something of the subject.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import ndimage, stats

from vaegan.data.anatomy import load_anatomy
from vaegan.data.phantoms import draw_subjects, tissue_loss


def leave_one_out_r(maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """r of each map with the mean of the others, inside ``mask``: (N, X, Y, Z) -> (N,)."""
    total = maps.sum(0)
    return np.array([np.corrcoef(m[mask], ((total - m) / (len(maps) - 1))[mask])[0, 1] for m in maps])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    anatomy = load_anatomy()
    people = [p for p in draw_subjects(args.subjects, args.seed) if p.diagnosis == "AD"]
    maps = np.stack([tissue_loss(anatomy, p)[1] for p in people])
    mask = anatomy.brain > 0
    print(f"{len(people)} AD subjects, each against the mean of the others, on the template grid (2 mm):")
    print("| maps | median r | IQR | lowest |\n|---|---|---|---|")
    blurred = np.stack([ndimage.gaussian_filter(m, 1.0) for m in maps])  # about a 2.5 mm image voxel
    scores = {"as saved": leave_one_out_r(maps, mask), "blurred (Gaussian, sd 2 mm)": leave_one_out_r(blurred, mask)}
    for name, r in scores.items():
        low, mid, high = np.percentile(r, [25, 50, 75])
        print(f"| {name} | {mid:.3f} | [{low:.3f}, {high:.3f}] | {r.min():.3f} |")
    severity = np.array([p.severity for p in people])
    print(f"r against severity: Spearman {stats.spearmanr(severity, scores['as saved']).statistic:+.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
