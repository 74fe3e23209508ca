"""benchmarks/: the scripts train and label what they measure as the shipped configs say."""

from __future__ import annotations

from pathlib import Path

from vaegan import DataSplits, load_config
from vaegan.data import ImageDataset

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_vae_is_benchmarked_on_binarized_digits_as_its_config_trains(monkeypatch):
    """Its "val -ELBO" is only an ELBO on binary pixels, which the config's data.binarize asks for."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import throughput
    import torch

    seen = {}
    monkeypatch.setattr(throughput, "Trainer", lambda *args, **kwargs: seen.update(kwargs))
    config = load_config(str(ROOT / "configs" / "mnist_vae.yaml"), ["model.image_shape=[1,28,28]"])
    assert config.data.binarize
    images = ImageDataset(torch.rand(4, 1, 28, 28), torch.zeros(4, dtype=torch.long), ["0"], "toy")
    throughput.shipped_trainer(config, DataSplits(images, images, images), "cpu")
    assert seen.get("binarize") is True


def test_a_reused_run_that_stopped_early_is_labelled_cut(monkeypatch, tmp_path):
    """The table named a run stopped after 3 of its 14 epochs by its bare config, as if it had finished."""
    import argparse
    import json

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import quality

    args = argparse.Namespace(device="cpu", out_dir=tmp_path, epochs=None, data_dir=None, limit=None, reuse=True)
    args.k, args.nll_images, args.samples = 5000, 1000, None
    config, _ = quality.run_config("cvaegan", args)
    own = config.train.epochs
    config.out_dir.mkdir(parents=True)
    options = {"k": 5000, "nll_images": 1000, "n_samples": None, "seed": 0, "latent": "prior"}  # as this run asks
    evaluation = {"model": "cvaegan", "dataset": "mnist", "train": {"epochs": 3}, "options": options, "metrics": {}}
    (config.out_dir / "evaluation.json").write_text(json.dumps(evaluation))
    _, source = quality.benchmark_model("cvaegan", args)
    assert f"cut: 3 of its {own} epochs" in source


def test_floor_bias_compares_a_test_half_with_the_other_half_and_with_training_images(monkeypatch, capsys):
    """The unseen set must be the *other* half of the test set (no image in both), at the same n."""
    import torch

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import floor_bias

    def images(n, offset):  # every image distinct: its first pixel is its number
        x = torch.rand(n, 1, 4, 4)
        x[:, 0, 0, 0] = torch.arange(offset, offset + n, dtype=torch.float32)
        return ImageDataset(x, torch.arange(n) % 2, ["a", "b"], "toy")

    splits = DataSplits(images(300, 0), images(0, 0), images(100, 1000))
    embedded = []

    class Flat(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.where = torch.nn.Parameter(torch.zeros(1))  # the device the images go to

        def features(self, x):
            embedded.append(x[:, 0, 0, 0].tolist())
            return x.flatten(1)

    monkeypatch.setattr(floor_bias, "load_dataset", lambda *a, **k: splits)
    monkeypatch.setattr(floor_bias, "load_classifier", lambda *a, **k: Flat())
    assert floor_bias.main(["--n", "80"]) == 0  # more than half the test set: cut to 50
    half, seen, unseen = (set(ids) for ids in embedded)
    assert len(half) == len(seen) == len(unseen) == 50
    assert not half & unseen and half | unseen <= set(range(1000, 1100)) and seen <= set(range(300))
    rows = [line.split("|")[1].strip() for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert rows[1:] == ["FID", "KID", "precision", "recall"]


def test_the_cohort_probe_times_an_epoch_after_a_warm_up_one(monkeypatch, capsys, tmp_path):
    """Its one timed epoch was the process's first: oneDNN's first 3-D convolutions, the allocator's growth and
    the prefetch thread's start fell into samples/s (43.7 at 200 volumes, 56.4 at 2,000, for the same work)."""
    import json

    import torch

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import cohort

    images = ImageDataset(torch.rand(8, 1, 8, 8, 8), torch.zeros(8, dtype=torch.long), ["CN"], "toy")
    monkeypatch.setattr(cohort, "load_dataset", lambda *args, **kwargs: DataSplits(images, images, images))
    epochs = []

    class Recording:
        placement = "device"

        def __init__(self, *args, **kwargs):
            pass

        def train_epoch(self, epoch):
            epochs.append(epoch)

    monkeypatch.setattr(cohort, "Trainer", Recording)
    monkeypatch.setattr(cohort.time, "perf_counter", lambda: len(epochs) * 10.0)  # 10 s an epoch
    cohort.train_probe(tmp_path, "memory", "always", 8, [4], 4)
    assert epochs == [1, 2]
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["samples_per_s"] == 8 / 10.0
