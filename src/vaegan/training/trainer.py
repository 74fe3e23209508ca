"""The generic training loop: it asks the model how to learn and never looks inside it."""

from __future__ import annotations

import logging
import math
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from vaegan.data import DataSplits, ImageDataset
from vaegan.foundation.checkpoints import read_checkpoint
from vaegan.foundation.errors import TrainingError
from vaegan.foundation.files import write_text_atomic
from vaegan.models.base import Batch, GenerativeModel
from vaegan.training.callbacks import Callback, default_callbacks
from vaegan.training.checkpoint import rng_state, set_rng_state
from vaegan.training.config import TrainConfig
from vaegan.training.run_folder import non_finite_advice, prepare_fresh

History = list[dict[str, float]]
log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError(f"train.device={name!r} but no CUDA device is available; use 'cpu' or 'auto'")
    return torch.device(name)


class Trainer:
    """Fits any :class:`GenerativeModel` on in-memory data and writes a run folder.

    Batches are slices of one tensor on the device (no per-item Python work).
    Each epoch: train, validate, then callbacks write grids, metrics, curves,
    TensorBoard events and checkpoints. ``fit(resume=True)`` continues from
    ``checkpoints/last.pt`` and ends bit-identical to an uninterrupted run.

    Example:
        >>> trainer = Trainer(VAE(VAEConfig()), load_dataset("mnist"), TrainConfig(epochs=1), out_dir="outputs/x")
        >>> history = trainer.fit()
    """

    def __init__(
        self,
        model: GenerativeModel,
        data: DataSplits,
        config: TrainConfig,
        *,
        out_dir: str | Path,
        run_config: dict[str, Any] | None = None,
        binarize: bool = False,
        callbacks: list[Callback] | None = None,
    ):
        self.config = config
        self.device = resolve_device(config.device)
        self.model = model.to(self.device)
        self.optimizers = self.model.configure_optimizers()
        self.data = data
        self.train_x, self.train_y = data.train.images.to(self.device), data.train.labels.to(self.device)
        self.out_dir = Path(out_dir)
        self.run_config = run_config
        self.binarize = binarize
        self.callbacks = default_callbacks(config) if callbacks is None else callbacks
        self.history: History = []
        self.epoch = 0
        self.best = math.inf

    # -- the loop ---------------------------------------------------------
    def fit(self, *, resume: bool = False, overwrite: bool = False) -> History:
        """Train until ``config.epochs``; returns one row of metrics per epoch."""
        last = self.out_dir / "checkpoints" / "last.pt"
        if resume and last.is_file():
            self.restore(last)
        else:
            self._prepare_fresh(last, overwrite)
        self.model.on_fit_start(len(self.train_x))
        for callback in self.callbacks:
            callback.on_fit_start(self)
        try:
            for epoch in range(self.epoch + 1, self.config.epochs + 1):
                started = time.perf_counter()
                self.model.on_epoch_start(epoch)
                row: dict[str, float] = {"epoch": epoch}
                row.update({f"train/{k}": v for k, v in self.train_epoch(epoch).items()})
                row.update({f"val/{k}": v for k, v in self.evaluate(self.data.val).items()})
                row["seconds"] = round(time.perf_counter() - started, 3)
                self.history.append(row)
                self.epoch = epoch
                for callback in self.callbacks:
                    callback.on_epoch_end(self, row)
        finally:
            for callback in self.callbacks:
                callback.on_fit_end(self)
        return self.history

    def _prepare_fresh(self, last: Path, overwrite: bool) -> None:
        prepare_fresh(self.out_dir, overwrite)  # refuses a run there unless overwrite; deletes only the run's files
        if self.run_config is not None:  # the resolved config, trainable again with --config
            write_text_atomic(self.out_dir / "config.yaml", yaml.safe_dump(self.run_config, sort_keys=False))
        torch.manual_seed(self.config.seed)

    def batches(self, epoch: int):
        """Shuffled in-memory batches; the order depends only on (seed, epoch), so resume is exact."""
        n, size = len(self.train_x), self.config.batch_size
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.config.seed * 100_003 + epoch))
        order = order.to(self.device)
        for start in range(0, n, size):
            index = order[start : start + size]
            if len(index) < 2:  # batch norm cannot train on a single image
                continue
            x = self.train_x.index_select(0, index)
            if self.binarize:
                x = torch.bernoulli(x)  # dynamic binarization: a fresh binary image every time
            yield Batch(x, self.train_y.index_select(0, index))

    def train_epoch(self, epoch: int) -> dict[str, float]:
        self.model.train()
        sums: dict[str, torch.Tensor] = {}
        seen = 0
        steps = -(-len(self.train_x) // self.config.batch_size)
        bar = tqdm(
            self.batches(epoch),
            total=steps,
            desc=f"epoch {epoch}/{self.config.epochs}",
            disable=not self.config.progress,
            leave=False,
            dynamic_ncols=True,
        )
        for step, batch in enumerate(bar, start=1):
            with self.autocast():
                terms = self.model.train_step(batch, self.optimizers)
            values = torch.stack([v.float() for v in terms.values()])
            if not bool(torch.isfinite(values).all()):
                bad = ", ".join(f"{k}={float(v):.4g}" for k, v in terms.items() if not math.isfinite(float(v)))
                raise TrainingError(
                    f"loss became non-finite at epoch {epoch}, step {step} ({bad}); stopped. "
                    f"{non_finite_advice(self.out_dir, self.config.precision)}"
                )
            b = len(batch.x)
            for key, value in terms.items():
                sums[key] = sums[key] + value.float() * b if key in sums else value.float() * b
            seen += b
            if step % 25 == 0 or step == steps:
                bar.set_postfix({k: f"{float(v) / seen:.4g}" for k, v in sums.items()}, refresh=False)
        bar.close()
        return {key: float(value) / seen for key, value in sums.items()}

    @torch.no_grad()
    def evaluate(self, dataset: ImageDataset) -> dict[str, float]:
        """Mean eval_step terms over ``dataset``, with fixed noise so epochs compare."""
        self.model.eval()
        sums: dict[str, float] = {}
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.config.seed + 1)
            for start in range(0, len(dataset), self.config.eval_batch_size):
                x = dataset.images[start : start + self.config.eval_batch_size].to(self.device)
                y = dataset.labels[start : start + self.config.eval_batch_size].to(self.device)
                if self.binarize:
                    x = torch.bernoulli(x)
                with self.autocast():
                    terms = self.model.eval_step(Batch(x, y))
                for key, value in terms.items():
                    sums[key] = sums.get(key, 0.0) + float(value) * len(x)
        return {key: value / len(dataset) for key, value in sums.items()}

    def autocast(self):
        if self.config.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def log_image(self, name: str, image: np.ndarray) -> None:
        """Hand an (H, W) or (H, W, 3) uint8 image to every callback that records images (TensorBoard)."""
        for callback in self.callbacks:
            callback.on_image(self, name, image)

    # -- checkpoints ------------------------------------------------------
    def checkpoint_payload(self) -> dict:
        return {
            **self.model.checkpoint_payload(),
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "epoch": self.epoch,
            "best": self.best,
            "history": self.history,
            "rng": rng_state(),
            "run_config": self.run_config,
        }

    def restore(self, path: Path) -> None:
        """Load model, optimizers, RNG and history from a Trainer checkpoint."""
        payload = read_checkpoint(path, map_location=self.device)
        try:
            self.model.load_state_dict(payload["model"])
            for name, optimizer in self.optimizers.items():
                optimizer.load_state_dict(payload["optimizers"][name])
        except (KeyError, RuntimeError, ValueError) as error:
            raise TrainingError(f"{path}: does not match this model/config: {error}") from None
        self.epoch, self.best, self.history = payload["epoch"], payload["best"], payload["history"]
        set_rng_state(payload["rng"])
        log.info("resumed %s at epoch %d", path, self.epoch)
