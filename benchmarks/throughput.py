"""Training throughput: vaegan's Trainer against hand-written loops, and fp32 against bf16, in one run.

Three sections; in each, the variants' epochs alternate so background load hits
them alike, and the best epoch of each counts (ratios are within one section).

- ``mlp``: the PyTorch example's MLP VAE (784-400-20, batch 128, Adam 1e-3,
  Bernoulli likelihood). The reference loop is what an expert writes over
  in-memory tensors: randperm batches, fused Adam, BCE on logits. Peak resident
  memory: a fresh subprocess per variant running one epoch of that same model
  (like with like); a probe that fails stops the benchmark.
- ``precision``: the shipped conv VAE (configs/mnist_vae.yaml) and DCGAN
  (configs/mnist_gan.yaml) with ``train.precision`` 32 and bf16: samples/s,
  their ratio, and quality at equal epochs (validation -ELBO for the VAE; the
  losses and a sample grid, written to --out-dir, for the GAN), every variant
  scored in float32.
- ``dcgan``: the DCGAN in the Trainer (fp32, channels_last, bf16, and with
  --compile torch.compile) against a hand-written loop of the same networks.

    python benchmarks/throughput.py [--sections mlp,precision,dcgan] [--epochs 3] [--limit 6400] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from memory import peak_rss_mb  # benchmarks/memory.py (scripts run from benchmarks/ on sys.path)
from torch import nn

from vaegan import VAE, DataSplits, TrainConfig, Trainer, VAEConfig, build_model, load_config, load_dataset
from vaegan.data import ImageDataset
from vaegan.experiment import prepare
from vaegan.visualization import save_grid

BATCH, LR = 128, 1e-3
REPO = Path(__file__).resolve().parents[1]
HAND, TRAINER = "hand loop (fused Adam, BCE on logits)", "vaegan Trainer"


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
    """One epoch of the MLP VAE; returns seconds."""
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


def hand_gan_epoch(generator, discriminator, optimizers, x, batch: int, latent: int) -> float:
    """One epoch of the DCGAN written out by hand (D step, then G step through a frozen D); returns seconds."""
    g_opt, d_opt = optimizers
    start = time.perf_counter()
    order = torch.randperm(len(x), device=x.device)
    for i in range(0, len(x), batch):
        real = x[order[i : i + batch]]
        fake = torch.sigmoid(generator(torch.randn(len(real), latent, device=x.device)))
        d_opt.zero_grad(set_to_none=True)
        real_logits, fake_logits = discriminator(real)[:, 0], discriminator(fake.detach())[:, 0]
        d_loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
        d_loss = d_loss + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        d_loss.backward()
        d_opt.step()
        g_opt.zero_grad(set_to_none=True)
        discriminator.requires_grad_(False)
        logits = discriminator(fake)[:, 0]
        F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)).backward()
        discriminator.requires_grad_(True)
        g_opt.step()
    synchronize(x.device)
    return time.perf_counter() - start


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":  # timings must include the queued GPU work
        torch.cuda.synchronize(device)


def timed(trainer: Trainer) -> Callable[[int], float]:
    def epoch(number: int) -> float:
        start = time.perf_counter()
        trainer.model.on_epoch_start(number)
        trainer.train_epoch(number)
        synchronize(trainer.device)
        return time.perf_counter() - start

    return epoch


def alternate(variants: dict[str, Callable[[int], float]], epochs: int) -> dict[str, list[float]]:
    """Seconds per epoch of each variant, the variants taking turns epoch by epoch."""
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for epoch in range(1, epochs + 1):
        for name, run in variants.items():
            seconds[name].append(run(epoch))
    return seconds


def table(title: str, rows: list[tuple[str, float, float, str]], extra: str = "") -> None:
    print(f"\n{title}")
    print(f"| variant | samples/s | ratio |{f' {extra} |' if extra else ''}")
    print(f"|---|---:|---:|{'---:|' if extra else ''}")
    for name, speed, ratio, value in rows:
        print(f"| {name} | {speed:,.0f} | {ratio:.2f} |{f' {value} |' if extra else ''}")


# -- mlp ---------------------------------------------------------------------
def mlp_trainer(data: DataSplits) -> Trainer:
    config = VAEConfig(latent_dim=20, lr=LR, network={"kind": "mlp", "hidden": [400]})
    train = TrainConfig(epochs=100, batch_size=BATCH, progress=False, tensorboard=False, device="cpu")
    return Trainer(VAE(config), data, train, out_dir="/tmp/vaegan-throughput", callbacks=[])


def mlp_section(args) -> None:
    data = load_dataset("mnist", data_dir=args.data_dir)
    x = data.train.images.flatten(1)
    ref, slow = ExampleVAE(), ExampleVAE()
    ref_opt = torch.optim.Adam(ref.parameters(), lr=LR, fused=True)
    slow_opt = torch.optim.Adam(slow.parameters(), lr=LR)
    seconds = alternate(
        {
            HAND: lambda e: hand_loop_epoch(ref, ref_opt, x),
            TRAINER: timed(mlp_trainer(data)),
            "hand loop (Adam, BCE on probs)": lambda e: hand_loop_epoch(slow, slow_opt, x, logits=False),
        },
        args.epochs,
    )
    speed = {name: len(x) / min(times) for name, times in seconds.items()}
    memory = {
        name: f"{peak_memory(probe, args.data_dir):,.0f}" for name, probe in ((HAND, "hand"), (TRAINER, "vaegan"))
    }
    rows = [(name, value, value / speed[HAND], memory.get(name, "")) for name, value in speed.items()]
    table(f"MNIST MLP VAE 784-400-20, batch {BATCH}, {len(x)} images/epoch, best of {args.epochs}", rows, "peak RSS MB")


def peak_memory(variant: str, data_dir: str | None) -> float:
    """Peak RSS (MB) of a fresh process running one epoch of ``variant``; raises if that process fails."""
    command = [sys.executable, __file__, "--memory-probe", variant] + (["--data-dir", data_dir] if data_dir else [])
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"memory probe {variant!r} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_mb"]


def memory_probe(variant: str, data_dir: str | None) -> None:
    """One epoch of the MLP VAE over all of MNIST, by hand or in the Trainer; prints the peak RSS."""
    data = load_dataset("mnist", data_dir=data_dir)
    if variant == "vaegan":
        timed(mlp_trainer(data))(1)
    else:
        model = ExampleVAE()
        hand_loop_epoch(model, torch.optim.Adam(model.parameters(), lr=LR, fused=True), data.train.images.flatten(1))
    print(json.dumps({"peak_mb": peak_rss_mb()}))


# -- the shipped conv VAE and DCGAN ------------------------------------------
def shipped(name: str, args) -> tuple:
    overrides = [f"data.data_dir={args.data_dir}"] if args.data_dir else []
    config, data = prepare(load_config(str(REPO / "configs" / f"{name}.yaml"), overrides))
    val = data.val.subset(list(range(min(args.val_limit, len(data.val)))))
    return config, DataSplits(data.train.subset(list(range(min(args.limit, len(data.train))))), val, data.test)


def shipped_trainer(config, data: DataSplits, device: str, **train: object) -> Trainer:
    torch.manual_seed(config.train.seed)  # the same initial weights for every variant
    options = {"progress": False, "tensorboard": False, "device": device, **train}
    train_config = config.train.model_copy(update=options)
    return Trainer(  # binarize as the config trains (the VAE's ELBO is one on binary pixels only)
        build_model(config.model),
        data,
        train_config,
        out_dir="/tmp/vaegan-throughput",
        callbacks=[],
        binarize=config.data.binarize,
    )


def quality(trainer: Trainer, dataset: ImageDataset) -> dict[str, float]:
    """The validation terms of ``trainer``'s weights, in float32 arithmetic whatever precision it trains in.

    ``Trainer.evaluate`` runs under the trainer's autocast: the bf16 variant's losses would be computed in
    bf16, so the column would mix what the variants learned with how they are scored. A float32 trainer
    around the same model (and data, binarized alike) scores every variant the same way.
    """
    float32 = trainer.config.model_copy(update={"precision": "32"})
    scorer = Trainer(
        trainer.model, trainer.data, float32, out_dir=trainer.out_dir, callbacks=[], binarize=trainer.binarize
    )
    return scorer.evaluate(dataset)


def precision_section(args) -> None:
    for name in ("mnist_vae", "mnist_gan"):
        config, data = shipped(name, args)
        trainers = {
            precision: shipped_trainer(config, data, args.device, precision=precision) for precision in ("32", "bf16")
        }
        seconds = alternate({p: timed(t) for p, t in trainers.items()}, args.epochs)
        rows = []
        for precision, trainer in trainers.items():
            speed = len(data.train) / min(seconds[precision])
            scores = quality(trainer, data.val)
            if name == "mnist_vae":
                value = f"val -ELBO {scores['loss']:.2f}"
            else:
                value = ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
                grid = Path(args.out_dir) / f"{name}_{precision}.png"
                save_grid(trainer.model.sample(64, generator=torch.Generator().manual_seed(0)), grid, 8)
                value += f" (grid {grid})"
            reference = len(data.train) / min(seconds["32"])
            rows.append((f"{name} precision={precision}", speed, speed / reference, value))
        title = f"{name}: {len(data.train)} images/epoch, {args.epochs} epochs each, best epoch counts"
        table(title, rows, f"after {args.epochs} epochs")


def dcgan_section(args) -> None:
    config, data = shipped("mnist_gan", args)
    torch.manual_seed(config.train.seed)
    device = torch.device(args.device)
    hand = build_model(config.model).to(device)  # the same networks, trained by the loop above
    hand_optimizers = [
        torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True) for m in hand.children()
    ]
    x, batch, latent = data.train.images.to(device), config.train.batch_size, config.model.latent_dim
    variants = {
        "hand loop (same G and D, fused Adam)": lambda e: hand_gan_epoch(
            *hand.children(), hand_optimizers, x, batch, latent
        ),
        "vaegan Trainer, fp32": timed(shipped_trainer(config, data, args.device)),
        "vaegan Trainer, channels_last": timed(shipped_trainer(config, data, args.device, channels_last=True)),
        "vaegan Trainer, bf16 autocast": timed(shipped_trainer(config, data, args.device, precision="bf16")),
    }
    if args.compile:
        variants["vaegan Trainer, torch.compile"] = timed(shipped_trainer(config, data, args.device, compile=True))
    seconds = alternate(variants, args.epochs)
    speed = {name: len(x) / min(times) for name, times in seconds.items()}
    reference = speed["hand loop (same G and D, fused Adam)"]
    seconds_per_epoch = {name: f"{60_000 * 11 / 12 / value:.0f}" for name, value in speed.items()}  # 55,000 images
    rows = [(name, value, value / reference, seconds_per_epoch[name]) for name, value in speed.items()]
    table(f"DCGAN (configs/mnist_gan.yaml), batch {batch}, {len(x)} images/epoch", rows, "s per MNIST epoch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="mlp,precision,dcgan", help="comma-separated: mlp, precision, dcgan")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=6400, help="training images per epoch (precision, dcgan)")
    parser.add_argument("--val-limit", type=int, default=2000, help="validation images (precision)")
    parser.add_argument("--compile", action="store_true", help="also time train.compile (slow to start)")
    parser.add_argument("--out-dir", default="/tmp/vaegan-throughput", help="sample grids of the precision section")
    parser.add_argument("--device", default="cpu", help="for the precision and dcgan sections: cpu or cuda")
    parser.add_argument("--data-dir")
    parser.add_argument("--memory-probe", choices=["vaegan", "hand"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        return memory_probe(args.memory_probe, args.data_dir)
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average {load:.1f}")
    gpu = f", {torch.cuda.get_device_name()}" if args.device.startswith("cuda") else ""
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}{gpu}")
    sections = {"mlp": mlp_section, "precision": precision_section, "dcgan": dcgan_section}
    for name in args.sections.split(","):
        torch.manual_seed(0)
        sections[name](args)


if __name__ == "__main__":
    main()
