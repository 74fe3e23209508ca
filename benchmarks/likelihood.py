"""Test log-likelihood of the IWAE paper's MNIST VAE, as a curve against training passes (Burda et al. 2015).

Setup as in the paper: dynamically binarized MNIST, one stochastic layer of 50
units, two deterministic layers of 200 tanh units in encoder and decoder,
Bernoulli decoder. The test set is binarized once with a fixed seed and scored
with the k-sample importance-weighted bound (k = 5000 in the paper).

Two schedules:
- ``--schedule constant --epochs N``: Adam 1e-3 for N epochs, scored at the end.
- ``--schedule paper --stages S``: the paper's (appendix C): stage i = 0..S-1 trains
  3^i passes at learning rate 1e-3 * 10^(-i/7), Adam epsilon 1e-4; the full
  schedule is S = 8 (3,280 passes), which reaches 86.76 nats in the paper. The test
  NLL is scored after every stage, so the table is a curve of NLL against passes
  and shows how far a given budget gets.

    python benchmarks/likelihood.py --schedule paper --stages 4 --k 5000 --test-size 1000
    python benchmarks/likelihood.py --schedule constant --epochs 50 --test-size 10000

The paper trains with batch 20; ``--batch-size`` (default 100) trades that for speed on CPU.
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


def stages(args: argparse.Namespace) -> list[tuple[int, float, float]]:
    """(passes, learning rate, Adam epsilon) per stage."""
    if args.schedule == "constant":
        return [(args.epochs, 1e-3, 1e-8)]
    return [(3**i, 1e-3 * 10 ** (-i / 7), 1e-4) for i in range(args.stages)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedule", choices=["constant", "paper"], default="constant")
    parser.add_argument("--epochs", type=int, default=10, help="constant schedule: epochs at lr 1e-3")
    parser.add_argument("--stages", type=int, default=8, help="paper schedule: stages 0..S-1 (3^i passes each)")
    parser.add_argument("--k", type=int, default=5000)
    parser.add_argument("--test-size", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir")
    parser.add_argument("--out", default="outputs/benchmark_iwae")
    args = parser.parse_args()

    torch.manual_seed(0)
    data = load_dataset("mnist", data_dir=args.data_dir)
    model = VAE(
        VAEConfig(
            latent_dim=50, likelihood="bernoulli", network={"kind": "mlp", "hidden": [200, 200], "activation": "tanh"}
        )
    )
    plan = stages(args)
    config = TrainConfig(
        epochs=sum(p for p, _, _ in plan),
        batch_size=args.batch_size,
        device=args.device,
        progress=False,
        tensorboard=False,
    )
    trainer = Trainer(model, data, config, out_dir=args.out, binarize=True, callbacks=[])
    model.on_fit_start(len(data.train))
    test = data.test.images[: args.test_size]
    binary = torch.bernoulli(test, generator=torch.Generator().manual_seed(123))

    print(
        f"IWAE-paper VAE (784-200-200-50, tanh, Bernoulli), dynamically binarized MNIST, schedule {args.schedule}, "
        f"batch {args.batch_size}; test images {len(test)} (binarized once, seed 123), k={args.k}"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
        f"device {args.device}, torch {torch.__version__}"
    )
    print(
        f"| passes | lr | -ELBO (nats) | -log p(x), IWAE k={args.k} (nats) | vs paper ({PAPER_NATS}) "
        "| train s, this stage (absolute) | score s (absolute) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    epoch = 0
    for passes, lr, eps in plan:
        for group in trainer.optimizers["model"].param_groups:
            group["lr"], group["eps"] = lr, eps
        started = time.perf_counter()
        for _ in range(passes):
            epoch += 1
            model.on_epoch_start(epoch)
            trainer.train_epoch(epoch)
        train_seconds = time.perf_counter() - started
        started = time.perf_counter()
        metrics = likelihood_metrics(model.eval(), binary, k=args.k, batch_size=args.batch_size)
        score_seconds = time.perf_counter() - started
        print(
            f"| {epoch} | {lr:.2e} | {metrics['neg_elbo']:.2f} | {metrics['nll']:.2f} "
            f"| {metrics['nll'] / PAPER_NATS:.3f}x | {train_seconds:.0f} | {score_seconds:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
