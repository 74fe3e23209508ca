"""How much of each test brain is shape? A smooth warp of the mean brain, fitted to each test subject.

    python benchmarks/ad_shape.py --config configs/ad_vae_3d.yaml --grids 4 6 8

For each grid size g it fits, to every test image on its own, a displacement on g^3 control points
(linearly interpolated to the image: a smooth warp) and a gain and offset of intensity, that move
the mean image of the non-test subjects onto the test image (Adam, ``--steps`` steps, on all test
images at once), and prints the explained variance, 1 - MSE(warped mean) / MSE(mean), the figure
``vaegan.evaluation.reconstruction.explained_variance`` reports for a model. It is a diagnostic,
not a model: the warp is fitted to the very image it is scored on, with 3 g^3 + 2 numbers per
subject. It says how much of what a decoder misses is the same brain moved a few millimetres
(benchmarks/ad_effects.md). About 4 minutes per grid at 64^3 on 2 CPU cores.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from vaegan.config import load_config
from vaegan.experiment import load_data


def warped_mean_explained(mean: torch.Tensor, images: torch.Tensor, grid: int, steps: int) -> float:
    """Explained variance of ``mean`` (1, 1, *S) warped onto each of ``images`` (N, 1, *S), 3-D."""
    n, size = len(images), images.shape[2:]
    coarse = torch.zeros(n, 3, grid, grid, grid, requires_grad=True)  # displacement, grid_sample units
    gain = torch.zeros(n, 2, requires_grad=True)  # (scale - 1, offset / 10) of intensity
    optimizer = torch.optim.Adam([coarse, gain], lr=0.02)
    identity = F.affine_grid(torch.eye(3, 4).expand(n, 3, 4), (n, 1, *size), align_corners=False)
    template = mean.expand(n, -1, -1, -1, -1)
    for _ in range(steps):
        field = F.interpolate(coarse, size=size, mode="trilinear", align_corners=False).permute(0, 2, 3, 4, 1)
        moved = F.grid_sample(template, identity + field, align_corners=False, padding_mode="border")
        drawn = moved * (1 + gain[:, 0].view(-1, 1, 1, 1, 1)) + 0.1 * gain[:, 1].view(-1, 1, 1, 1, 1)
        loss = (drawn - images).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return 1.0 - loss.item() / (images - mean).pow(2).mean().item()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/ad_vae_3d.yaml", help="a 3-D AD config (its data section)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--grids", nargs="+", type=int, default=[4, 6, 8], help="control points per axis")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    config = load_config(args.config, [*args.overrides, "train.progress=false", "data.mri.progress=false"])
    if config.data.mri.spatial_dims != 3:
        parser.error(f"{args.config}: a 3-D config is needed (data.mri.spatial_dims: 3)")
    splits = load_data(config)
    known = torch.as_tensor(splits.train_and_val().images).float()
    test = torch.as_tensor(splits.test.images).float()
    mean = known.mean(0, keepdim=True)
    torch.manual_seed(0)
    print("| control points | numbers per subject | explained variance of the warped mean |")
    print("|---|---|---|")
    for grid in args.grids:
        explained = warped_mean_explained(mean, test, grid, args.steps)
        print(f"| {grid}^3 | {3 * grid**3 + 2} | {explained:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
