"""How much the evaluation's floors owe to the reference classifier having seen their images.

``vaegan evaluate`` prints each sample metric beside its *floor*: the same metric between the
test images and as many real training images. The reference classifier that embeds them was
trained on those training images, so it places them more tightly than images it never saw, and
the floor comes out higher (worse) than two unseen real sets would score. This prints both,
on one random half of the test set against (a) as many training images and (b) the other
random half, which no classifier saw. (The MNIST test set must be halved at random: its first
and last 5,000 images come from different NIST sets, the first the cleaner, FID 45 between them.)

    python benchmarks/floor_bias.py [--dataset mnist] [--n 5000]
"""

from __future__ import annotations

import argparse

import torch

from vaegan.data import load_dataset
from vaegan.evaluation.classifier_store import load_classifier
from vaegan.evaluation.feature_metrics import extract_features, frechet_distance, kernel_distance, precision_recall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--n", type=int, default=5000, help="images in each set (at most half the test set)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    splits = load_dataset(args.dataset, val_size=0)
    classifier = load_classifier(args.dataset).eval()
    n = min(args.n, len(splits.test) // 2)
    g = torch.Generator().manual_seed(args.seed)
    test = splits.test.images[torch.randperm(len(splits.test), generator=g)]
    train = splits.train.images[torch.randperm(len(splits.train), generator=g)[:n]]
    half, seen, unseen = (extract_features(classifier.features, x) for x in (test[:n], train, test[n : 2 * n]))
    rows = {
        "FID": (frechet_distance(half, seen), frechet_distance(half, unseen)),
        "KID": (kernel_distance(half, seen, seed=args.seed)[0], kernel_distance(half, unseen, seed=args.seed)[0]),
    }
    (p_seen, r_seen), (p_unseen, r_unseen) = precision_recall(half, seen), precision_recall(half, unseen)
    rows.update({"precision": (p_seen, p_unseen), "recall": (r_seen, r_unseen)})
    print(f"{args.dataset}: {n} test images against {n} others, in the reference classifier's features\n")
    print("| metric | training images (the floor; the classifier saw them) | test images it never saw | ratio |")
    print("|---|---:|---:|---:|")
    for name, (a, b) in rows.items():
        ratio = f"{a / b:.2f}" if a > 0 and b > 0 else ""  # KID scatters around 0 for like sets: no ratio
        print(f"| {name} | {a:.3f} | {b:.3f} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
