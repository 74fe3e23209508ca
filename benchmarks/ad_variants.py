"""Is the AD group map's shortfall noise or bias? The same trained cVAE, its maps made several ways.

Trains ``configs/ad_cvae_2d.yaml`` with the given ``--set`` overrides once into ``--out``
(reused after), then scores against the phantoms' true atrophy (Pearson r inside the brain):

- the group map from the test CN subjects (as ``benchmarks/ad_effects.py``), from every test
  subject (each encoded with its own label), and from every subject, training ones included:
  if more codes raised r, the map would be limited by Monte-Carlo noise;
- each of those, and the raw group difference, smoothed in-plane by a Gaussian of 0.5-1.5
  voxels (as voxel-based morphometry smooths): if smoothing raised r, by voxel noise;
- the individual maps' median r, raw and smoothed, beside the model-free maps';
- whether the individual maps are one pattern: each against their mean, and that mean (or the mean
  true atrophy) used as every subject's map.

    python benchmarks/ad_variants.py --out outputs/ad_variants/unregistered \
        --set data.mri.phantom_spacing=5 --set data.mri.size=32 --set train.epochs=30 --set data.mri.registration=off
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from scipy import ndimage

from vaegan.config import load_config, text_override
from vaegan.data.datasets import split_subjects
from vaegan.data.mri import MRIVolumes, phantom_folder, read_volumes
from vaegan.data.phantoms import ATROPHY_SUFFIX
from vaegan.experiment import train_from_config
from vaegan.runs import load_run
from vaegan.visualization.curves import read_history
from vaegan.visualization.disease_effects import disease_effect, pearson
from vaegan.visualization.disease_maps import per_position, summarize_effects
from vaegan.visualization.subject_maps import individual_maps

QUIET = ["train.progress=false", "data.mri.progress=false", "train.tensorboard=false"]


def mean_effect(model, data: MRIVolumes, mri, samples: int) -> torch.Tensor:
    """The mean AD-minus-CN effect over every subject of ``data``, each encoded with its own label."""
    images = per_position(data.volumes, mri)
    total, count = 0.0, 0
    for label in (0, 1):
        own = images[data.labels == label]
        effect = disease_effect(model, own.flatten(0, 1), source=label, target=1 - label, samples=samples)
        total = total + (effect if label == 0 else -effect).view_as(own).sum(0)
        count += len(own)
    return total / count


def smooth(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """In-plane Gaussian smoothing of (..., H, W) maps, ``sigma`` in voxels."""
    sigmas = [0.0] * (maps.dim() - 2) + [sigma, sigma]
    return torch.from_numpy(ndimage.gaussian_filter(maps.numpy(), sigma=sigmas))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the run folder (trained once, reused after)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override")
    parser.add_argument("--samples", type=int, default=8, help="posterior draws per map")
    args = parser.parse_args()
    config = load_config("ad_cvae_2d", [*QUIET, *args.overrides, text_override("out", args.out)])
    if not (Path(args.out) / "checkpoints" / "best.pt").is_file():
        train_from_config(config, overwrite=True)
    trained = sum(row.get("seconds", 0.0) for row in read_history(Path(args.out) / "metrics.csv"))  # reused too
    model, mri, s = load_run(args.out).model, config.data.mri, args.samples
    volumes = read_volumes(phantom_folder(mri), mri, maps_suffix=ATROPHY_SUFFIX)
    is_test = split_subjects(volumes.subjects, volumes.labels, mri.test_size)
    test, train = volumes.select(is_test), volumes.select(~is_test)

    summary = summarize_effects(model, test, mri, samples=s)
    brain, truth = summary.anatomy > 0.1, summary.truth
    every_test = mean_effect(model, test, mri, s)
    n_test, n_train = len(test.labels), len(train.labels)
    everyone = (mean_effect(model, train, mri, s) * n_train + every_test * n_test) / (n_train + n_test)
    maps = {"test CN": summary.effect, "every test subject": every_test, "every subject": everyone}
    result = {"train_seconds": round(trained), "overrides": args.overrides}
    for sigma in (0.0, 0.5, 1.0, 1.5):
        blur = (lambda m: m) if sigma == 0 else (lambda m, s_=sigma: smooth(m, s_))
        row = {name: pearson(-blur(m), truth, brain) for name, m in maps.items()}
        row["raw group difference"] = pearson(-blur(summary.group_difference), truth, brain)
        result[f"group r, smoothed {sigma:g} voxels"] = {k: round(v, 3) for k, v in row.items()}
    individual = individual_maps(model, test, mri, samples=s)
    for sigma in (0.0, 0.5, 1.0):
        blur = (lambda m: m) if sigma == 0 else (lambda m, s_=sigma: smooth(m, s_))
        model_r = [pearson(blur(m), t, individual.brain) for m, t in zip(individual.loss, individual.truth)]
        free_r = [pearson(blur(m), t, individual.brain) for m, t in zip(individual.baseline, individual.truth)]
        result[f"individual median r, smoothed {sigma:g} voxels"] = {
            "model": round(float(torch.tensor(model_r).median()), 3),
            "model-free": round(float(torch.tensor(free_r).median()), 3),
        }
    # are the individual maps one pattern? r of each with the maps' mean, and what the means score
    mean_map, mean_truth, mask = individual.loss.mean(0), individual.truth.mean(0), individual.brain
    result["individual maps vs their mean, median r"] = round(
        float(torch.tensor([pearson(m, mean_map, mask) for m in individual.loss]).median()), 3
    )
    for name, pattern in (("the maps' mean", mean_map), ("the mean true atrophy", mean_truth)):
        r = [pearson(pattern, t, mask) for t in individual.truth]
        result[f"{name} as every subject's map, median r"] = round(float(torch.tensor(r).median()), 3)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
