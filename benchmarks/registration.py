"""Time per raw T1w scan of the MRI preprocessing (N4, affine registration to MNI152, resampling onto the
template grid), and how close registration lands to a known head motion.

Each scan is nilearn's MNI152 T1 moved by a known rotation and shift (10 deg about x, -6 deg about z,
(8, -5, 4) mm), stored on an oblique (15 deg) LPS grid with a bias field and noise, as
``tests/data/test_registration.py`` builds its scan, at two resolutions: the test's 1.5 x 1.8 x 3 mm
(120 x 130 x 60 voxels) and an ADNI-like MPRAGE, 1.2 x 1 x 1 mm (176 x 256 x 256). Each is preprocessed
``--repeat`` times by ``to_template`` at ``data.mri.spacing`` (no cache). The table gives the median seconds
of each step and of all three, that total as a ratio to the reference measured in the same run (the same
scan resampled onto the template grid without a fit, what a scan already in MNI space costs), and the
registration's mean error at the corners of a brain-sized box.

    python benchmarks/registration.py [--repeat 3] [--spacing 2.5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from vaegan.data import registration
from vaegan.data.bad_inputs import BadFile

SCANS = {  # name: (voxels, voxel size in mm)
    "1.5 x 1.8 x 3 mm, 120 x 130 x 60, oblique (the test's scan)": ((120, 130, 60), (1.5, 1.8, 3.0)),
    "1.2 x 1 x 1 mm, 176 x 256 x 256, oblique (an ADNI-like MPRAGE)": ((176, 256, 256), (1.2, 1.0, 1.0)),
}
CORNERS = np.array([[x, y, z, 1.0] for x in (-60, 60) for y in (-90, 60) for z in (-40, 70)]).T  # (4, 8) MNI mm


def rotation(axis: int, degrees: float) -> np.ndarray:
    a, b = [i for i in range(3) if i != axis]
    turn = np.eye(4)
    c, s = np.cos(np.deg2rad(degrees)), np.sin(np.deg2rad(degrees))
    turn[[a, a, b, b], [a, b, a, b]] = c, -s, s, c
    return turn


MOTION = rotation(0, 10.0) @ rotation(2, -6.0)  # template world -> subject world (RAS mm)
MOTION[:3, 3] = (8.0, -5.0, 4.0)


def moved_scan(shape: tuple[int, int, int], zooms: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(image, voxel-to-RAS affine): the template moved by ``MOTION`` on an oblique LPS grid, biased, noisy."""
    t1, _, template_affine = registration._template()
    header = rotation(0, 15.0) @ np.diag([-zooms[0], -zooms[1], zooms[2], 1.0])  # LPS
    header[:3, 3] = np.array([0.0, -18.0, 10.0]) - header[:3, :3] @ ((np.array(shape) - 1) / 2)
    voxels = np.vstack([np.indices(shape, dtype=np.float64).reshape(3, -1), np.ones((1, np.prod(shape)))])
    template_voxels = np.linalg.inv(template_affine) @ np.linalg.inv(MOTION) @ header @ voxels
    image = ndimage.map_coordinates(t1, template_voxels[:3], order=1).reshape(shape)
    x, y, z = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij", sparse=True)
    image = image * np.exp(0.3 * x + 0.2 * y * z) * 1000.0  # a bias field for N4
    image += np.abs(np.random.default_rng(0).normal(0.0, 10.0, shape))
    return image.astype(np.int16).astype(np.float32), header


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="preprocessing runs per scan (the median is shown)")
    parser.add_argument("--spacing", type=float, default=2.5, help="data.mri.spacing: mm of the template grid")
    args = parser.parse_args()
    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    print(f"{platform.machine()}, {os.cpu_count()} cores (SimpleITK {sitk.Version.VersionString()}, {threads} threads)")
    print(f"load average {os.getloadavg()[0]:.1f} at the start; spacing {args.spacing} mm; median of {args.repeat}\n")
    print("| scan | N4 s | registration s | resampling s | total s | vs resampling alone | corner error mm |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, (shape, zooms) in SCANS.items():
        image, affine = moved_scan(shape, zooms)
        steps: dict[str, list[float]] = {"n4": [], "registration": [], "resampling": [], "total": [], "alone": []}
        errors = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            done = registration.to_template(image, affine, spacing=args.spacing)
            steps["total"].append(time.perf_counter() - start)
            for step, seconds in done.seconds.items():
                steps[step].append(seconds)
            errors.append(np.linalg.norm((done.transform @ CORNERS - MOTION @ CORNERS)[:3], axis=0).mean())
            start = time.perf_counter()  # the reference: onto the grid as it lies, no N4, no fit
            try:
                registration.to_template(image, affine, spacing=args.spacing, register_scan=False,
                                         bias_correction=False, in_mni=True)  # fmt: skip
            except BadFile:  # the moved scan does not match the template unfitted: timed all the same
                pass
            steps["alone"].append(time.perf_counter() - start)
        m = {step: statistics.median(values) for step, values in steps.items()}
        print(
            f"| {name} | {m['n4']:.1f} | {m['registration']:.1f} | {m['resampling']:.2f} | {m['total']:.1f} "
            f"| {m['total'] / m['alone']:.0f}x | {statistics.median(errors):.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
