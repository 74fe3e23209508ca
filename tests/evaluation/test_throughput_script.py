"""benchmarks/throughput.py: the precision section scores its variants alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vaegan import DataSplits, load_config
from vaegan.data import ImageDataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["mnist_vae", "mnist_gan"])
def test_quality_at_equal_epochs_is_scored_in_float32_for_the_bf16_variant_too(monkeypatch, name):
    """The same weights score the same: bf16 arithmetic in the validation losses would move the bf16 column."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import throughput

    config = load_config(str(ROOT / "configs" / f"{name}.yaml"), ["model.image_shape=[1,28,28]"])
    generator = torch.Generator().manual_seed(0)
    images = ImageDataset(torch.rand(8, 1, 28, 28, generator=generator), torch.zeros(8, dtype=torch.long), ["0"], "toy")
    data = DataSplits(images, images, images)
    trainers = {p: throughput.shipped_trainer(config, data, "cpu", precision=p) for p in ("32", "bf16")}
    scores = {p: throughput.quality(trainer, data.val) for p, trainer in trainers.items()}
    assert scores["32"].keys() == scores["bf16"].keys()
    for key, value in scores["32"].items():
        assert scores["bf16"][key] == pytest.approx(value, abs=1e-5), key
    assert trainers["bf16"].config.precision == "bf16"  # the variant still trains in bf16
