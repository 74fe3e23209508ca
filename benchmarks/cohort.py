"""MRI cohorts larger than memory: preprocessing time, loading, training throughput and peak RSS.

1. Generate ``--generate`` phantom brains (``vaegan phantoms``) and preprocess them
   to ``--size``^3 with each of ``--workers`` process counts (cache off): seconds,
   seconds per subject, speedup over one process.
2. For each cohort size in ``--subjects``, write a CSV of path,label,subject with that
   many rows. When the cohort is larger than the generated set, its rows cycle through
   the phantoms, hard-linked under new names and subject ids (the table says so): loading
   and training cost the same whatever the voxels hold.
3. In a fresh process per (size, path), with the per-file cache filled beforehand and
   kept in ``--work-dir``, load the CSV with ``load_dataset("mri")`` as a
   user would, and train a small 3-D VAE over the training split for two epochs, timing the second:
   ``data.mri.storage=memory`` with ``train.data_on_device=always`` (the cohort as one
   float32 tensor), or ``storage=file`` with ``data_on_device=never`` (the cohort file
   and its split files in the cache, streamed). Load seconds, samples/s and the process's
   peak RSS.

    python benchmarks/cohort.py [--subjects 200,2000] [--generate 200] [--size 64] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch
from memory import peak_rss_mb  # benchmarks/memory.py (scripts run from benchmarks/ on sys.path)

from vaegan.data import load_dataset
from vaegan.data.config import MRIConfig
from vaegan.data.mri import read_volumes
from vaegan.data.phantoms import write_phantoms
from vaegan.models import VAE, VAEConfig
from vaegan.training import TrainConfig, Trainer

PATHS = {"in memory": ("memory", "always"), "streamed": ("file", "never")}


def preprocessing(folder: Path, size: int, workers: list[int]) -> list[tuple[int, float]]:
    """Seconds to preprocess ``folder`` with each worker count (cache off)."""
    times = []
    for count in workers:
        options = MRIConfig(spatial_dims=3, size=size, cache=False, workers=count, progress=False, layout="bids")
        start = time.perf_counter()
        read_volumes(folder, options)
        times.append((count, time.perf_counter() - start))
    return times


def write_csv(path: Path, phantoms: Path, n: int) -> None:
    """``n`` rows of path,label,subject cycling through the phantoms. A repeat is a hard link of the phantom
    under ``cycled/r<k>/`` with a new subject id: vaegan counts a file listed twice once, so a cohort of
    ``n`` rows must name ``n`` files (links cost no disk; each is preprocessed into the cache once)."""
    with open(phantoms / "participants.tsv") as file:
        people = list(csv.DictReader(file, delimiter="\t"))
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["path", "label", "subject"])
        for i in range(n):
            person, repeat = people[i % len(people)], i // len(people)
            sub = person["participant_id"]
            image = phantoms / sub / "anat" / f"{sub}_T1w.nii.gz"
            if repeat:
                image = linked(image, phantoms.parent / "cycled" / f"r{repeat}" / sub / image.name)
            writer.writerow([image, person["diagnosis"], f"{sub}-r{repeat}"])


def linked(source: Path, target: Path) -> Path:
    """``target`` as a hard link of ``source`` (a copy where the file system has none)."""
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    return target


def options(size: int, storage: str) -> MRIConfig:
    # phantoms are in MNI space already: no N4 or registration (as `raw_scans` settles for their BIDS folder)
    return MRIConfig(
        spatial_dims=3, size=size, layout="csv", storage=storage, progress=False,
        registration="off", bias_correction="off", test_size=0.1,
    )  # fmt: skip


def train_probe(table: Path, storage: str, placement: str, size: int, channels: list[int], batch: int) -> None:
    """Load the CSV and train two epochs in this (fresh) process, the second timed; prints the figures as JSON."""
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    start = time.perf_counter()
    data = load_dataset("mri", data_dir=table, val_size=0.1, mri=options(size, storage))
    load = time.perf_counter() - start
    network = {"kind": "conv", "channels": channels, "hidden": [64]}
    model = VAE(VAEConfig(latent_dim=16, image_shape=data.image_shape, num_classes=2, network=network))
    config = TrainConfig(
        epochs=2, batch_size=batch, progress=False, tensorboard=False, device="cpu", data_on_device=placement
    )
    trainer = Trainer(model, data, config, out_dir="/tmp/vaegan-cohort-run", callbacks=[])
    trainer.train_epoch(1)  # untimed: the process's first 3-D convolutions, allocations and prefetch thread
    start = time.perf_counter()
    trainer.train_epoch(2)
    seconds = time.perf_counter() - start
    figures = {"load_s": load, "samples_per_s": len(data.train) / seconds, "peak_mb": peak_rss_mb()}
    volumes = len(data.train) + len(data.val) + len(data.test)
    print(json.dumps(figures | {"placement": trainer.placement, "train": len(data.train), "volumes": volumes}))


def run_probe(table: Path, path: str, args) -> dict:
    storage, placement = PATHS[path]
    command = [sys.executable, __file__, "--probe", str(table), storage, placement, "--channels", args.channels]
    command += ["--batch", str(args.batch), "--size", str(args.size)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"probe {table} {path} failed ({result.returncode}):\n{result.stderr[-2000:]}")
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
    parser.add_argument("--probe", nargs=3, metavar=("CSV", "STORAGE", "PLACEMENT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    channels = [int(c) for c in args.channels.split(",")]
    if args.probe:
        table, storage, placement = args.probe
        return train_probe(Path(table), storage, placement, args.size, channels, args.batch)

    work = Path(args.work_dir)
    phantoms = work / f"phantoms-{args.generate}"
    if not (phantoms / "participants.tsv").is_file():
        shutil.rmtree(phantoms, ignore_errors=True)
        start = time.perf_counter()
        write_phantoms(phantoms, subjects=args.generate, seed=0, spacing=2.5)
        print(f"generated {args.generate} phantoms in {time.perf_counter() - start:.0f} s")
    workers = [int(w) for w in args.workers.split(",")] if args.workers else []
    times = preprocessing(phantoms, args.size, workers)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"torch {torch.__version__}; phantoms at 2.5 mm preprocessed to {args.size}^3 (cache off)\n")
    print("| preprocessing | subjects | seconds | s/subject | speedup |")
    print("|---|---:|---:|---:|---:|")
    for count, seconds in times:
        speedup = times[0][1] / seconds
        label = f"{count} process{'es' if count > 1 else ''}"
        print(f"| {label} | {args.generate} | {seconds:.1f} | {seconds / args.generate:.2f} | {speedup:.2f} |")

    # the probes' cache (per-file entries, cohort and split files) lives in the work folder, filled once here
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")
    write_csv(work / "warm.csv", phantoms, args.generate)
    read_volumes(work / "warm.csv", options(args.size, "memory"))
    results = {}
    for n in [int(s) for s in args.subjects.split(",")]:
        table = work / f"cohort-{n}.csv"
        write_csv(table, phantoms, n)
        read_volumes(table, options(args.size, "memory"))  # the repeats' cache entries, before any timing
        for name in PATHS:
            results[n, name] = run_probe(table, name, args)
            print(f"{n} {name}: {results[n, name]}", flush=True)
            if results[n, name]["volumes"] != n:  # a row must hold the cohort it is named for
                raise SystemExit(f"the {n}-row cohort loaded {results[n, name]['volumes']} volumes")

    print(
        f"\n3-D VAE (conv {args.channels}, batch {args.batch}), load_dataset + two epochs (the second timed), "
        "a fresh process each"
    )
    print("| cohort | volumes | path | load s | train volumes | samples/s | vs in memory | peak RSS MB |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for (n, name), row in results.items():
        source = "phantoms" if n <= args.generate else f"{args.generate} phantoms cycled"
        ratio = row["samples_per_s"] / results[n, "in memory"]["samples_per_s"]
        print(
            f"| {source} | {n} | {name} | {row['load_s']:.0f} | {row['train']} | {row['samples_per_s']:.1f} "
            f"| {ratio:.2f} | {row['peak_mb']:,.0f} |"
        )
    sizes = sorted({n for n, _ in results})
    if len(sizes) > 1:
        growth = results[sizes[-1], "streamed"]["peak_mb"] / results[sizes[0], "streamed"]["peak_mb"]
        print(f"\nstreamed peak RSS, {sizes[-1]} vs {sizes[0]} volumes: {growth:.2f}x")


if __name__ == "__main__":
    main()
