"""Test log-likelihood of the IWAE paper's MNIST VAE after N epochs (Burda et al. 2015, Table 1).

Setup as in the paper: dynamically binarized MNIST, one stochastic layer of 50
units, two deterministic layers of 200 tanh units in encoder and decoder,
Bernoulli decoder. The test set is binarized once with a fixed seed and scored
with the k-sample importance-weighted bound (k = 5000 in the paper). The paper's
VAE reaches 86.76 nats after 3^8 passes; this reports what N epochs reach here.

    python benchmarks/likelihood.py [--epochs 10] [--k 5000] [--test-size 10000] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from vaegan import VAE, TrainConfig, Trainer, VAEConfig, load_dataset
from vaegan.evaluation.likelihood import likelihood_metrics

PAPER_NATS = 86.76


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--test-size", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir")
    parser.add_argument("--out", default="outputs/benchmark_iwae")
    args = parser.parse_args()

    torch.manual_seed(0)
    data = load_dataset("mnist", data_dir=args.data_dir)
    model = VAE(VAEConfig(latent_dim=50, likelihood="bernoulli",
                          network={"kind": "mlp", "hidden": [200, 200], "activation": "tanh"}))
    started = time.perf_counter()
    train = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, device=args.device, progress=False)
    Trainer(model, data, train, out_dir=args.out, binarize=True).fit(overwrite=True)
    train_seconds = time.perf_counter() - started

    test = data.test.images[: args.test_size]
    binary = torch.bernoulli(test, generator=torch.Generator().manual_seed(123))
    started = time.perf_counter()
    metrics = likelihood_metrics(model, binary, k=args.k, batch_size=args.batch_size)
    eval_seconds = time.perf_counter() - started
    print(f"IWAE-paper VAE (784-200-200-50, tanh, Bernoulli), dynamically binarized MNIST, {args.epochs} epochs, "
          f"batch {args.batch_size}, Adam 1e-3; test images {len(test)}, k={args.k}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, device {args.device}, torch {torch.__version__}")
    print("| figure | nats | vs paper (86.76) | seconds |")
    print("|---|---:|---:|---:|")
    print(f"| -ELBO (k=1) | {metrics['neg_elbo']:.2f} | {metrics['neg_elbo'] / PAPER_NATS:.3f}x | |")
    print(f"| -log p(x), IWAE k={args.k} | {metrics['nll']:.2f} | {metrics['nll'] / PAPER_NATS:.3f}x "
          f"| {eval_seconds:.0f} |")
    print(f"| training | | | {train_seconds:.0f} |")


if __name__ == "__main__":
    main()
