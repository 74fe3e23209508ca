"""``vaegan train-classifier --dataset mnist [--epochs 5] [--force]``: the reference classifier for evaluation.

MRI, phantoms and image folders have one classifier per data folder and
``data.mri`` options: pass the run's ``--config`` (and ``--set``) to train the
one its evaluation will use.
"""

from __future__ import annotations

import argparse
import time


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train-classifier", help="train the reference classifier that vaegan evaluate measures samples with"
    )
    parser.add_argument("--dataset", help="registered dataset name, e.g. mnist, fashion-mnist (default: --config's)")
    parser.add_argument("--config", help="a run config whose data section (dataset, data_dir, mri) to use")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key of --config, e.g. --set data.mri.size=48 (repeatable)")  # fmt: skip
    parser.add_argument("--data-dir", help="folder holding the dataset files")
    parser.add_argument(
        "--epochs", type=int, help="passes over the training set (default 5, more on small sets: at least 150 steps)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--limit", type=int, help="train on the first N images only (quick tries)")
    parser.add_argument("--force", action="store_true", help="retrain even if a cached classifier exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vaegan.config import load_config
    from vaegan.evaluation.classifier_store import classifier_path, read_classifier, train_classifier
    from vaegan.foundation.errors import ConfigError
    from vaegan.runs import check_device

    dataset, data_dir, mri = args.dataset, args.data_dir, None
    if args.config:
        data = load_config(args.config, args.overrides).data
        dataset, data_dir, mri = dataset or data.dataset, data_dir or data.data_dir, data.mri
    if not dataset:
        raise ConfigError("train-classifier: give --dataset NAME or --config RUN_CONFIG.yaml")
    if args.epochs is not None and args.epochs < 1:
        raise ConfigError(f"train-classifier: --epochs {args.epochs}: must be at least 1")
    device = check_device(args.device)  # before the data is read
    path = classifier_path(dataset, data_dir=data_dir, mri=mri)
    if path.is_file() and not args.force:
        print(f"{path} exists; pass --force to retrain it")
    started = time.perf_counter()
    path = train_classifier(
        dataset,
        data_dir=data_dir,
        epochs=args.epochs,
        device=device,
        force=args.force,
        limit=args.limit,
        mri=mri,
    )
    meta = read_classifier(path).metadata
    seconds = time.perf_counter() - started
    print(f"{path}: test accuracy {meta['test_accuracy']:.4f} ({meta['epochs']} epochs; {seconds:.0f} s)")
    return 0
