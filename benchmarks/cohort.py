"""MRI cohorts larger than memory: preprocessing time, training throughput and peak RSS, in memory vs streamed.

1. Generate ``--generate`` phantom brains (``vaegan phantoms``) and preprocess them
   to ``--size``^3 with each of ``--workers`` process counts (cache off): seconds,
   seconds per subject, speedup over one process.
2. For each cohort size in ``--subjects``, write a cohort file (a raw float16
   ``.npy``, as the streamed path reads it) of that many volumes. When the
   cohort is larger than the generated set, its volumes repeat the preprocessed
   phantoms in turn (the table says so): the Trainer's cost does not depend on
   what the voxels hold.
3. Train one epoch over each cohort in a fresh process per (size, path), with
   ``train.data_on_device`` ``always`` (the whole cohort in memory as float32)
   and ``never`` (streamed from the file): samples/s and peak RSS of that process.

    python benchmarks/cohort.py [--subjects 200,2000] [--generate 200] [--size 64] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from memory import peak_rss_mb  # benchmarks/memory.py (scripts run from benchmarks/ on sys.path)

from vaegan.data import DataSplits, ImageDataset
from vaegan.data.config import MRIConfig
from vaegan.data.mri import read_volumes
from vaegan.data.phantoms import write_phantoms
from vaegan.data.streaming import ImageWriter, open_images
from vaegan.models import VAE, VAEConfig
from vaegan.training import TrainConfig, Trainer

PATHS = {"in memory": "always", "streamed": "never"}


def preprocessing(folder: Path, size: int, workers: list[int]) -> tuple[list[tuple[int, float]], object]:
    """Seconds to preprocess ``folder`` with each worker count, and the volumes (from the last)."""
    times, data = [], None
    for count in workers:
        options = MRIConfig(spatial_dims=3, size=size, cache=False, workers=count, progress=False, layout="bids")
        start = time.perf_counter()
        data = read_volumes(folder, options)
        times.append((count, time.perf_counter() - start))
    return times, data


def write_cohort(path: Path, volumes: torch.Tensor, labels: torch.Tensor, n: int) -> None:
    """``n`` volumes, cycling through ``volumes``, as float16 rows of ``path`` (and labels beside it)."""
    with ImageWriter(path, n, tuple(volumes.shape[1:]), np.float16) as writer:
        for start in range(0, n, len(volumes)):
            stop = min(start + len(volumes), n)
            writer[start:stop] = volumes[: stop - start].half()
    np.save(path.with_suffix(".labels.npy"), labels.repeat(-(-n // len(labels)))[:n].numpy())


def train_probe(path: Path, placement: str, channels: list[int], batch: int) -> None:
    """One epoch over the cohort file in this (fresh) process; prints samples/s and peak RSS as JSON."""
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    images = open_images(path)
    labels = torch.from_numpy(np.load(path.with_suffix(".labels.npy")))
    train = ImageDataset(images, labels, ["CN", "AD"], "cohort")
    val = ImageDataset(images[:batch].float(), labels[:batch], ["CN", "AD"], "cohort")
    network = {"kind": "conv", "channels": channels, "hidden": [64]}
    model = VAE(VAEConfig(latent_dim=16, image_shape=tuple(images.shape[1:]), num_classes=2, network=network))
    config = TrainConfig(
        epochs=1, batch_size=batch, progress=False, tensorboard=False, device="cpu", data_on_device=placement
    )
    trainer = Trainer(model, DataSplits(train, val, val), config, out_dir="/tmp/vaegan-cohort-run", callbacks=[])
    start = time.perf_counter()
    trainer.train_epoch(1)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    print(json.dumps({"samples_per_s": len(train) / seconds, "peak_mb": peak, "placement": trainer.placement}))


def run_probe(path: Path, placement: str, args) -> dict:
    command = [sys.executable, __file__, "--probe", str(path), placement, "--channels", args.channels]
    command += ["--batch", str(args.batch)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"training probe {path} {placement} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", default="200,2000", help="cohort sizes, comma-separated")
    parser.add_argument("--generate", type=int, default=200, help="phantoms generated and preprocessed")
    parser.add_argument("--size", type=int, default=64, help="voxels per side after preprocessing")
    parser.add_argument("--workers", default=f"1,{os.cpu_count()}", help="preprocessing process counts to time")
    parser.add_argument("--channels", default="8,16,32", help="the 3-D VAE's conv channels")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--work-dir", default="/tmp/vaegan-cohort")
    parser.add_argument("--probe", nargs=2, metavar=("NPY", "PLACEMENT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    channels = [int(c) for c in args.channels.split(",")]
    if args.probe:
        return train_probe(Path(args.probe[0]), args.probe[1], channels, args.batch)

    work = Path(args.work_dir)
    phantoms = work / f"phantoms-{args.generate}"
    if not (phantoms / "participants.tsv").is_file():
        shutil.rmtree(phantoms, ignore_errors=True)
        start = time.perf_counter()
        write_phantoms(phantoms, subjects=args.generate, seed=0, spacing=2.5)
        print(f"generated {args.generate} phantoms in {time.perf_counter() - start:.0f} s")
    workers = [int(w) for w in args.workers.split(",")]
    times, data = preprocessing(phantoms, args.size, workers)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"torch {torch.__version__}; phantoms at 2.5 mm preprocessed to {args.size}^3 (cache off)\n")
    print("| preprocessing | subjects | seconds | s/subject | speedup |")
    print("|---|---:|---:|---:|---:|")
    for count, seconds in times:
        speedup = times[0][1] / seconds
        label = f"{count} process{'es' if count > 1 else ''}"
        print(f"| {label} | {args.generate} | {seconds:.1f} | {seconds / args.generate:.2f} | {speedup:.2f} |")

    results = {}
    for n in [int(s) for s in args.subjects.split(",")]:
        path = work / f"cohort-{n}-{args.size}.npy"
        write_cohort(path, data.volumes, data.labels, n)
        for name, placement in PATHS.items():
            results[n, name] = run_probe(path, placement, args)
        path.unlink()
        path.with_suffix(".labels.npy").unlink()

    print(f"\n3-D VAE (conv {args.channels}, batch {args.batch}), one epoch per cohort, fresh process each")
    print("| cohort | volumes | path | samples/s | vs in memory | peak RSS MB |")
    print("|---|---:|---|---:|---:|---:|")
    for (n, name), row in results.items():
        source = "phantoms" if n <= args.generate else f"{args.generate} phantoms repeated"
        ratio = row["samples_per_s"] / results[n, "in memory"]["samples_per_s"]
        print(f"| {source} | {n} | {name} | {row['samples_per_s']:.1f} | {ratio:.2f} | {row['peak_mb']:,.0f} |")
    sizes = sorted({n for n, _ in results})
    if len(sizes) > 1:
        growth = results[sizes[-1], "streamed"]["peak_mb"] / results[sizes[0], "streamed"]["peak_mb"]
        print(f"\nstreamed peak RSS, {sizes[-1]} vs {sizes[0]} volumes: {growth:.2f}x")


if __name__ == "__main__":
    main()
