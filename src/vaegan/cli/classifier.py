"""``vaegan train-classifier --dataset mnist [--epochs 5] [--force]``: the reference classifier for evaluation."""

from __future__ import annotations

import argparse
import time


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train-classifier", help="train the reference classifier that vaegan evaluate measures samples with"
    )
    parser.add_argument("--dataset", required=True, help="registered dataset name, e.g. mnist, fashion-mnist")
    parser.add_argument("--data-dir", help="folder holding the dataset files")
    parser.add_argument("--epochs", type=int, default=5, help="passes over the training set (default 5)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--limit", type=int, help="train on the first N images only (quick tries)")
    parser.add_argument("--force", action="store_true", help="retrain even if a cached classifier exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaegan.evaluation.classifier import classifier_path, read_classifier, train_classifier

    if classifier_path(args.dataset).is_file() and not args.force:
        print(f"{classifier_path(args.dataset)} exists; pass --force to retrain it")
    started = time.perf_counter()
    path = train_classifier(
        args.dataset,
        data_dir=args.data_dir,
        epochs=args.epochs,
        device=args.device,
        force=args.force,
        limit=args.limit,
    )
    meta = read_classifier(path).metadata
    seconds = time.perf_counter() - started
    print(f"{path}: test accuracy {meta['test_accuracy']:.4f} ({meta['epochs']} epochs; {seconds:.0f} s)")
    return 0
