"""Training throughput: vaegan's Trainer vs a hand-written PyTorch loop, same process, same tensors.

The model is the PyTorch example's MLP VAE (784-400-20, batch 128, Adam 1e-3,
Bernoulli likelihood). The reference loop is what an expert writes over
in-memory tensors: randperm batches, fused Adam, BCE on logits. Epochs
alternate between the two so background load hits both alike; the best epoch
of each counts. Peak resident memory is measured in a fresh subprocess per
variant (the hand loop, a whole ``vaegan train`` run).

    python benchmarks/throughput.py [--epochs 3] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from vaegan import VAE, TrainConfig, Trainer, VAEConfig, load_dataset

BATCH, LR = 128, 1e-3


class ExampleVAE(nn.Module):
    """The PyTorch examples' VAE, written out by hand."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def hand_loop_epoch(model, optimizer, x, *, logits: bool = True) -> float:
    """One epoch; returns seconds."""
    start = time.perf_counter()
    order = torch.randperm(len(x))
    for i in range(0, len(x), BATCH):
        batch = x[order[i : i + BATCH]]
        optimizer.zero_grad(set_to_none=True)
        out, mu, logvar = model(batch)
        if logits:
            rec = F.binary_cross_entropy_with_logits(out, batch, reduction="sum")
        else:
            rec = F.binary_cross_entropy(torch.sigmoid(out), batch, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        ((rec + kl) / len(batch)).backward()
        optimizer.step()
    return time.perf_counter() - start


def vaegan_trainer(data) -> Trainer:
    config = VAEConfig(latent_dim=20, lr=LR, network={"kind": "mlp", "hidden": [400]})
    train = TrainConfig(epochs=100, batch_size=BATCH, progress=False, tensorboard=False, device="cpu")
    return Trainer(VAE(config), data, train, out_dir="/tmp/vaegan-throughput", callbacks=[])


def measure_speed(data, epochs: int) -> dict[str, float]:
    x = data.train.images.flatten(1)
    ref = ExampleVAE()
    ref_opt = torch.optim.Adam(ref.parameters(), lr=LR, fused=True)
    slow = ExampleVAE()
    slow_opt = torch.optim.Adam(slow.parameters(), lr=LR)
    trainer = vaegan_trainer(data)
    best = {"hand loop (fused Adam, BCE on logits)": [], "vaegan Trainer": [], "hand loop (Adam, BCE on probs)": []}
    for epoch in range(1, epochs + 1):
        best["hand loop (fused Adam, BCE on logits)"].append(hand_loop_epoch(ref, ref_opt, x))
        start = time.perf_counter()
        trainer.train_epoch(epoch)
        best["vaegan Trainer"].append(time.perf_counter() - start)
        best["hand loop (Adam, BCE on probs)"].append(hand_loop_epoch(slow, slow_opt, x, logits=False))
    return {name: len(x) / min(times) for name, times in best.items()}


def peak_memory(variant: str, data_dir: str | None) -> float:
    """Peak RSS (MB) of a fresh process running one epoch of ``variant``."""
    args = [sys.executable, __file__, "--memory-probe", variant] + (["--data-dir", data_dir] if data_dir else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_mb"]


def memory_probe(variant: str, data_dir: str | None) -> None:
    if variant == "vaegan":  # the whole run: data, model, validation, grids, curves, checkpoints
        from vaegan.cli import main

        main(["train", "--config", "configs/mnist_vae.yaml", "--epochs", "1", "--out", "/tmp/vaegan-mem",
              "--overwrite", "--set", "train.progress=false", *(["--data-dir", data_dir] if data_dir else [])])
    else:
        data = load_dataset("mnist", data_dir=data_dir)
        model = ExampleVAE()
        hand_loop_epoch(model, torch.optim.Adam(model.parameters(), lr=LR, fused=True), data.train.images.flatten(1))
    print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data-dir")
    parser.add_argument("--memory-probe", choices=["vaegan", "hand"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        return memory_probe(args.memory_probe, args.data_dir)
    torch.manual_seed(0)
    data = load_dataset("mnist", data_dir=args.data_dir)
    speed = measure_speed(data, args.epochs)
    reference = speed["hand loop (fused Adam, BCE on logits)"]
    memory = {"hand loop (fused Adam, BCE on logits)": peak_memory("hand", args.data_dir),
              "vaegan Trainer": peak_memory("vaegan", args.data_dir)}
    print(f"MNIST MLP VAE 784-400-20, batch {BATCH}, {len(data.train)} images/epoch, best of {args.epochs} epochs")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"| {'variant':<40} | samples/s | ratio | peak RSS MB |")
    print(f"|{'-' * 42}|----------:|------:|------------:|")
    for name, value in speed.items():
        mem = memory.get(name)
        mem_text = f"{mem:11.0f}" if mem else " " * 11
        print(f"| {name:<40} | {value:9.0f} | {value / reference:5.2f} | {mem_text} |")


if __name__ == "__main__":
    main()
