"""Sample and likelihood quality of every registered model on MNIST, as one table.

Each model is trained with its shipped config (``mnist_<name>``, at that config's own
epoch count unless ``--epochs`` cuts it, which the table then says; the model's
defaults where there is no config), then scored by ``vaegan evaluate``:
reconstruction error, NLL, FID/KID/precision/recall and within-class diversity
in the reference classifier's feature space, conditional and train-on-generated
accuracy. The table goes into ``benchmarks/README.md`` between the markers
``<!-- quality:start -->`` and ``<!-- quality:end -->``, with the command line
and the machine, unless someone has edited that section since (then it prints the table and leaves the
file alone); every run's ``evaluation.json`` stays in its run folder. ``--reuse`` takes a run's
``evaluation.json`` where it was scored with this command's k, NLL images, samples and seed, and scores
the trained run again where not.

    python benchmarks/quality.py [--epochs N] [--models vae,cvae] [--device cpu]
                                 [--limit N] [--k 5000] [--nll-images 1000] [--samples N]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

from vaegan.config import build_config, load_config, shipped_configs, text_override
from vaegan.evaluation.evaluator import EvaluationOptions, evaluate_run
from vaegan.evaluation.results import Evaluation
from vaegan.experiment import train_from_config
from vaegan.foundation.files import atomic_write
from vaegan.models import list_models
from vaegan.training.trainer import resolve_device

REPO = Path(__file__).resolve().parents[1]
README = REPO / "benchmarks" / "README.md"
START, END = "<!-- quality:start -->", "<!-- quality:end -->"
GENERATED = "<!-- written by benchmarks/quality.py: edits here are replaced by its next run -->"
# what a reused evaluation.json must have been scored with for its figures to sit under this run's header
SCORED_WITH = ("k", "nll_images", "n_samples", "seed", "latent")

# (metric name, column heading); a model lacking a capability shows a dash
COLUMNS = [
    ("recon_mse", "recon MSE"),
    ("recon_ssim", "SSIM"),
    ("nll", "NLL (nats)"),
    ("nll_given_label", "NLL given label"),
    ("neg_elbo", "−ELBO"),
    ("fid", "FID ↓"),
    ("kid", "KID ↓"),
    ("precision", "precision ↑"),
    ("recall", "recall ↑"),
    ("diversity", "diversity"),
    ("sharpness", "sharpness"),
    ("cond_accuracy", "cond. acc. ↑"),
    ("tstr_accuracy", "TSTR acc. ↑"),
]


def run_config(name: str, args: argparse.Namespace):
    """The model's ready-made MNIST config with this benchmark's overrides."""
    overrides = [
        "train.progress=false",
        "train.tensorboard=false",
        f"train.device={args.device}",
        text_override("out", args.out_dir / name),
    ]
    overrides += [f"train.epochs={args.epochs}"] if args.epochs else []
    overrides += [text_override("data.data_dir", args.data_dir)] if args.data_dir else []
    overrides += [f"data.limit={args.limit}"] if args.limit else []
    if f"mnist_{name}" in shipped_configs():
        return load_config(f"mnist_{name}", overrides), f"mnist_{name}"
    defaults = {"name": f"mnist_{name}", "data": {"dataset": "mnist"}, "model": {"name": name}}
    return build_config(defaults, overrides, source=f"{name} defaults"), "model defaults"


def benchmark_model(name: str, args: argparse.Namespace) -> tuple[Evaluation, str]:
    config, source = run_config(name, args)
    own = run_config(name, argparse.Namespace(**{**vars(args), "epochs": None}))[0].train.epochs
    done = config.out_dir / "evaluation.json"
    options = EvaluationOptions(
        k=args.k, nll_images=args.nll_images or None, n_samples=args.samples, seed=0, device=args.device
    )
    if args.reuse and done.is_file():  # a run this command trained and scored before (e.g. one stopped later)
        result = Evaluation.read(done)
        trained = (result.info.get("train") or {}).get("epochs")  # the epochs it had when it was scored
        if isinstance(trained, int) and trained != own:
            source += f" (cut: {trained} of its {own} epochs)"
        differ = [key for key in SCORED_WITH if result.info.get("options", {}).get(key) != getattr(options, key)]
        if not differ:
            print(f"[{name}] reusing {done}", flush=True)
            return result, source
        print(f"[{name}] {done} was scored with other {', '.join(differ)}: scoring the trained run again", flush=True)
        return evaluate(name, config.out_dir, options), source
    if config.train.epochs != own:
        source += f" (cut: {config.train.epochs} of its {own} epochs)"
    print(f"[{name}] training {config.train.epochs} epochs ({source}) into {config.out_dir}", flush=True)
    train_from_config(config, overwrite=True)
    return evaluate(name, config.out_dir, options), source


def evaluate(name: str, run: Path, options: EvaluationOptions) -> Evaluation:
    """Score a trained run and keep its evaluation.json beside it."""
    started = time.perf_counter()
    result = evaluate_run(run, options=options)
    result.write(run / "evaluation.json")
    print(f"[{name}] evaluated in {time.perf_counter() - started:.0f} s\n{result.summary()}", flush=True)
    return result


def cell(result: Evaluation, name: str, floor: bool = False) -> str:
    metric = result.metrics.get(name)
    value = None if metric is None else (metric.floor if floor else metric.value)
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.4f}" if abs(value) < 1 else f"{value:.2f}"


def agreed_floor(results: list[tuple[Evaluation, str]], key: str) -> int:
    """Index of a result whose ``key`` floor the table shows; every model that has one must agree.

    A floor scores real images only (same test set, same real training subset, same classifier and
    seed), so it must not depend on the model; a difference means the runs were not comparable.
    """
    found = [(i, r.metrics[key].floor) for i, (r, _) in enumerate(results) if key in r.metrics]
    found = [(i, value) for i, value in found if value is not None and math.isfinite(value)]
    if not found:
        return 0
    first = found[0][1]
    if any(not math.isclose(value, first, rel_tol=1e-6, abs_tol=1e-9) for _, value in found):
        values = ", ".join(f"{results[i][0].model}={value:.6g}" for i, value in found)
        raise ValueError(f"the {key} floors differ between models ({values}); the runs are not comparable")
    return found[0][0]


def fastest_epoch(run: Path) -> float | None:
    """The shortest epoch of a run (its metrics.csv ``seconds``): the one least slowed by other jobs."""
    try:
        with (run / "metrics.csv").open(newline="") as file:
            seconds = [float(row["seconds"]) for row in csv.DictReader(file) if row.get("seconds")]
    except (OSError, ValueError, KeyError):
        return None
    return min(seconds, default=None)


def floor_cell(results: list[tuple[Evaluation, str]], key: str) -> str:
    """The floor of ``key``, which every model must share; diversity's has two protocols, each shared by its
    models: conditional models group the test images by their labels (as their samples by the labels asked
    for), the others by the reference classifier's predictions (as their samples)."""
    if key != "diversity":
        return cell(results[agreed_floor(results, key)][0], key, True)
    groups = [[r for r in results if ("cond_accuracy" in r[0].metrics) == conditional] for conditional in (True, False)]
    shown = [
        (cell(group[agreed_floor(group, key)][0], key, True), kind)
        for group, kind in zip(groups, ("by labels", "by predictions"))
        if group
    ]
    return shown[0][0] if len(shown) == 1 else " / ".join(f"{value} ({kind})" for value, kind in shown)


def table(results: list[tuple[Evaluation, str]], fastest: dict[str, float | None] | None = None) -> str:
    """Markdown: one row per model, then one row of floors (real train vs real test); ``fastest``: each
    model's shortest epoch in seconds, a column of its own where given."""
    timing = ["s/epoch (absolute)"] + ["fastest epoch, s"] * (fastest is not None)
    head = ["model", "config", "epochs", *timing, *(title for _, title in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for result, source in results:
        train = result.info.get("train", {})
        seconds = train.get("seconds_per_epoch")
        row = [result.model, source, str(train.get("epochs", "–")), f"{seconds:.1f}" if seconds else "–"]
        if fastest is not None:
            best = fastest.get(result.model)
            row.append(f"{best:.1f}" if best else "–")
        lines.append("| " + " | ".join(row + [cell(result, key) for key, _ in COLUMNS]) + " |")
    floors = {key: floor_cell(results, key) for key, _ in COLUMNS}
    floor_row = ["*real data (floor)*", "train vs test", "", *[""] * len(timing), *(floors[key] for key, _ in COLUMNS)]
    lines.append("| " + " | ".join(floor_row) + " |")
    notes = [f"- {result.model}: {note}" for result, _ in results for note in result.info.get("notes", [])]
    return "\n".join(lines + ([""] + notes if notes else []))


def machine(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if device.startswith("cuda") else ""
    load = os.getloadavg()[0]  # other jobs on the machine slow every timing down
    cores = f"{os.cpu_count()} cores ({torch.get_num_threads()} torch threads, load average {load:.1f} at the end)"
    return f"{cpu}, {cores}{gpu}; torch {torch.__version__}, Python {platform.python_version()}"


def nll_images(n_test: int | None, asked: int | None) -> str:
    """The test images the NLL was scored on: ``asked`` (--nll-images; 0 or None: all) drawn with seed 0, or all
    where the test set has no more (--limit 500 leaves 500)."""
    if n_test is None:
        return f"{asked} test images (drawn, seed 0)" if asked else "all test images"
    if not asked or asked >= n_test:
        return f"all {n_test} test images"
    return f"{asked} test images (drawn, seed 0)"


def section(results: list[tuple[Evaluation, str]], args: argparse.Namespace, seconds: float) -> str:
    first = results[0][0].info
    fastest = {result.model: fastest_epoch(args.out_dir / result.model) for result, _ in results}
    return "\n".join(
        [
            START,
            GENERATED,
            "## Quality: every model on MNIST",
            "",
            f"`python benchmarks/{Path(sys.argv[0]).name} {' '.join(sys.argv[1:])}`".replace("  ", " "),
            "",
            f"Machine: {machine(args.device)}; device `{args.device}`; total {seconds / 60:.1f} min.",
            f"Test images: {first.get('n_test')}; generated images per model: {first.get('n_samples')}; "
            f"NLL: k = {args.k} importance samples on {nll_images(first.get('n_test'), args.nll_images)}. "
            f"Reference classifier test accuracy: {first.get('classifier', {}).get('test_accuracy')}.",
            "",
            table(results, fastest),
            "",
            "FID, KID, precision/recall and diversity are measured in the reference classifier's features "
            "(`vaegan train-classifier`); the floor row scores real training images against the real test "
            "images in the same way, what a perfect model would reach with this many images. Diversity is "
            "the mean pairwise feature distance within a class: near its floor is best, far below it "
            "means collapse. Sharpness is the variance of the Laplacian (near its floor is best). "
            "TSTR: a classifier trained on generated images, tested on real ones.",
            END,
        ]
    )


def write_readme(text: str, path: Path = README) -> None:
    """Replace what lies between the markers (or append the section): the rest of the file is not ours, nor
    a section someone has edited since this script wrote it (it no longer starts with ``GENERATED``)."""
    old = path.read_text() if path.is_file() else "# Benchmarks\n"
    if START in old and END in old:
        before, rest = old.split(START, 1)
        if not rest.lstrip("\n").startswith(GENERATED):
            raise ValueError(
                f"the quality section of {path} was edited by hand (it lacks the line {GENERATED!r}); "
                "its text would be lost: run with --no-readme and copy the printed table in yourself"
            )
        new = before + text + rest.split(END, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(new))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="comma-separated subset of: " + ", ".join(list_models()))
    parser.add_argument("--epochs", type=int, help="override every config's train.epochs (quick runs)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--data-dir", help="folder holding mnist/ (default: the usual lookup)")
    parser.add_argument("--limit", type=int, help="train and test on the first N images only")
    parser.add_argument("--k", type=int, default=5000, help="importance samples for the NLL")
    parser.add_argument("--nll-images", type=int, default=1000, help="test images for the NLL (0: all)")
    parser.add_argument("--samples", type=int, help="generated images per model (default: as many as test images)")
    parser.add_argument("--out-dir", type=Path, default=Path("outputs/benchmark_quality"))
    parser.add_argument("--no-readme", action="store_true", help="print the table, leave README.md alone")
    parser.add_argument("--reuse", action="store_true", help="take a model's evaluation.json from --out-dir if there")
    args = parser.parse_args()
    args.device = str(resolve_device(args.device))
    names = list_models() if not args.models else [n.strip() for n in args.models.split(",")]
    unknown = sorted(set(names) - set(list_models()))
    if unknown:
        parser.error(f"unknown models {unknown}; known: {', '.join(list_models())}")

    started = time.perf_counter()
    results = [benchmark_model(name, args) for name in names]
    text = section(results, args, time.perf_counter() - started)
    summary = {r.model: r.to_dict() for r, _ in results}
    atomic_write(args.out_dir / "quality.json", lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))
    print("\n" + text)
    if not args.no_readme:
        try:
            write_readme(text)
        except ValueError as error:
            sys.exit(f"\n{error}")
        print(f"\nwrote the table into {README}")


if __name__ == "__main__":
    main()
