"""The generic training loop: it asks the model how to learn and never looks inside it."""

from __future__ import annotations

import json
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
from vaegan.data.mri import phantom_versions_read
from vaegan.data.streaming import RowReader, prefetch
from vaegan.foundation.checkpoints import read_checkpoint
from vaegan.foundation.errors import TrainingError, VaeganError
from vaegan.foundation.files import SUBJECTS_FILE, write_text_atomic
from vaegan.models.base import Batch, GenerativeModel
from vaegan.training.callbacks import Callback, Checkpoints, default_callbacks
from vaegan.training.checkpoint import rng_state, set_rng_state
from vaegan.training.config import TrainConfig
from vaegan.training.distributed import Ranks, resolve_device, setup, sync_batchnorm
from vaegan.training.finite import FiniteGuard
from vaegan.training.placement import memory_format, placement
from vaegan.training.replacement import new_run_checkpointed, recover, settle
from vaegan.training.run_folder import (
    RunLock,
    check_out_dir,
    clear_stale_temporaries,
    holds_run,
    non_finite_advice,
    prepare_fresh,
)
from vaegan.training.schedule import LearningRate

History = list[dict[str, float]]
log = logging.getLogger(__name__)

__all__ = ["History", "Trainer", "resolve_device"]


def bar_label(epoch: int, epochs: int, world_size: int) -> str:
    """The progress bar's title. Under torchrun its running figures are rank 0's share of each batch; the
    epoch's row in metrics.csv is the mean over every rank's images."""
    return f"epoch {epoch}/{epochs}" + (f" (rank 0 of {world_size}: its images only)" if world_size > 1 else "")


def eval_spans(n: int, size: int, least: int = 1) -> list[tuple[int, int]]:
    """(start, stop) of batches of ``size`` over [0, n); a last one under ``least`` joins the one before."""
    spans = [(start, min(start + size, n)) for start in range(0, n, size)]
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] < least:
        spans[-2:] = [(spans[-2][0], n)]
    return spans


class Trainer:
    """Fits any :class:`GenerativeModel` on in-memory data and writes a run folder.

    Batches are slices of one tensor on the device (no per-item Python work),
    or, for data too large for the device (``train.data_on_device``), read a
    few batches ahead from RAM or a memory-mapped file.
    Each epoch: train, validate, then callbacks write grids, metrics, curves,
    TensorBoard events and checkpoints. ``fit(resume=True)`` continues from
    ``checkpoints/last.pt`` and ends bit-identical to an uninterrupted run on the CPU (random
    state, data order and schedule are restored exactly; on a GPU, cuDNN's and atomic-add kernels
    may still round in another order, as they do between two fresh runs).

    Started by ``torchrun``, each process trains on its shard of every global
    batch and the optimizers average gradients over the ranks before they step;
    only rank 0 runs the callbacks (see docs/distributed.md).

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
        self.ranks: Ranks
        self.ranks, self.device = setup(config.device, timeout_s=config.dist_timeout_s)
        try:
            self._build(model, data)
        except BaseException:
            self.ranks.close()  # a refused setting must not leave the process group behind
            raise
        self.out_dir = Path(out_dir)
        self.replacing = False  # rank 0 set an old run aside for this one (--overwrite), until its first checkpoint
        self.run_config = run_config
        self.binarize = binarize
        callbacks = default_callbacks(config) if callbacks is None else callbacks
        self.callbacks = callbacks if self.ranks.is_main else []  # one set of outputs, from rank 0
        self.history: History = []
        self.epoch, self.closing = 0, False
        self.best = math.inf

    def _build(self, model: GenerativeModel, data: DataSplits) -> None:
        """The model on this rank's device (synced batch norm, memory layout, compiled), its optimizers, the data."""
        config = self.config
        model = model.to(self.device)
        if config.sync_batchnorm and (self.ranks.active or self.device.type != "cuda"):
            model = sync_batchnorm(model, self.device)  # refused on the CPU, in one process too
        self.memory_format = memory_format(config, len(data.image_shape))
        model = model.to(memory_format=self.memory_format)
        if config.compile:  # in place, per network: the state_dict keys (and checkpoints) stay the same
            twice = model.differentiated_twice()
            for name, network in model.named_children():
                if name not in twice:
                    network.compile()
            if twice:
                log.warning(
                    "train.compile: %s of model %s left uncompiled: its loss differentiates their gradient (a "
                    "gradient penalty), which a compiled network's backward cannot take",
                    ", ".join(sorted(twice)),
                    model.config.name,
                )
        self.model = model
        self.optimizers = self.model.configure_optimizers()
        self.ranks.hook_optimizers(self.optimizers)
        self.rate = LearningRate(self.optimizers, config.lr_schedule, config.lr_final_fraction)
        self.data = data
        self.placement = placement(config.data_on_device, data.train.images, self.device)
        # the fast path: all training images on the device, batches are index_select on it
        images = data.train.images
        self.train_x = images.to(self.device, torch.float32) if self.placement == "device" else None
        self.reader = RowReader.of(images) if self.placement == "stream" else None
        self.train_y = data.train.labels.to(self.device)

    # -- the loop ---------------------------------------------------------
    def fit(self, *, resume: bool = False, overwrite: bool = False) -> History:
        """Train until ``config.epochs``; returns one row of metrics per epoch.

        Under torchrun the process group is destroyed when this returns or raises.
        """
        lock, finished = None, False
        try:
            if not self.spans():  # before anything is written: an epoch of no steps would still save checkpoints
                least, n = 2 * self.ranks.world_size, len(self.data.train)
                remedy = (
                    f"set train.batch_size to {least} or more"
                    if n >= least
                    else "give more training images" + (", or train on fewer processes" if least > 2 else "")
                )
                raise TrainingError(
                    f"train.batch_size {self.config.batch_size} with {n} training image{'s' * (n != 1)} on "
                    f"{self.ranks.world_size} process(es): every batch needs at least {least} images (2 a "
                    f"process, for batch norm); {remedy}"
                )
            self.model.check_steps(len(self.spans()) * self.config.epochs)  # before anything is written
            lock = self._start(resume, overwrite)
            if resume and self.epoch >= self.config.epochs and self.ranks.is_main:
                log.warning(
                    "%s: nothing to train: checkpoints/last.pt holds epoch %d and train.epochs is %d; "
                    "ask for %d or more epochs (--epochs, or fit(epochs=...)) to train further",
                    self.out_dir, self.epoch, self.config.epochs, self.epoch + 1,
                )  # fmt: skip
            self.model.on_fit_start(len(self.data.train))
            for callback in self.callbacks:
                callback.on_fit_start(self)
            try:
                for epoch in range(self.epoch + 1, self.config.epochs + 1):
                    self._run_epoch(epoch)
            except KeyboardInterrupt:
                if self.ranks.is_main:
                    log.warning("%s", self._interrupted())
                raise
            finally:
                for callback in self.callbacks:
                    callback.on_fit_end(self)
            finished = True
        finally:
            try:
                if self.replacing:  # the new run stopped: kept where it wrote a checkpoint (a callback after
                    # Checkpoints failed, or Ctrl-C in one), else the old run comes back
                    self._settle_replaced(keep_new=finished or new_run_checkpointed(self.out_dir))
            finally:  # whatever stops the settling (a second Ctrl-C), the next start finishes it
                if lock is not None:
                    lock.release()
                self.ranks.close(finished)
        return self.history

    def _settle_replaced(self, keep_new: bool) -> None:
        """The run --overwrite set aside goes once the new run has a checkpoint (or finished); else it comes back."""
        self.replacing = False
        settle(self.out_dir, new_run_checkpointed=keep_new)

    def _interrupted(self) -> str:
        """Where an interrupted run stands: the epoch its last.pt holds, which --resume continues after."""
        last = self.out_dir / "checkpoints" / "last.pt"
        try:
            saved = read_checkpoint(last).get("epoch") if last.is_file() else None
        except VaeganError:
            saved = None
        if saved is None:
            where = f"at the end of epoch {self.epoch}" if self.closing else f"in epoch {self.epoch + 1}"
            return f"{self.out_dir}: interrupted {where}, before any checkpoint was written"
        return f"{self.out_dir}: interrupted; checkpoints/last.pt holds epoch {saved}, which --resume continues after"

    def _run_epoch(self, epoch: int) -> None:
        started = time.perf_counter()
        self.model.on_epoch_start(epoch)
        if self.ranks.active:  # each rank its own noise; a function of (seed, epoch, rank), so resume is exact
            torch.manual_seed((self.config.seed * 1_000_003 + epoch) * 1_009 + self.ranks.rank)
        row: dict[str, float] = {"epoch": epoch}
        row.update({f"train/{k}": v for k, v in self.train_epoch(epoch).items()})
        self.ranks.average_buffers(self.model)  # one set of batch-norm statistics for validation and checkpoints
        row.update({f"val/{k}": v for k, v in self.evaluate(self.data.val).items()})
        bad = [f"{key}={value}" for key, value in row.items() if key.startswith("val/") and not math.isfinite(value)]
        if bad:  # before any callback writes the row or a checkpoint
            raise TrainingError(
                f"validation loss became non-finite at epoch {epoch} ({', '.join(bad)}); stopped. "
                f"{non_finite_advice(self.out_dir, self.config.precision)}"
            )
        row["seconds"] = round(time.perf_counter() - started, 3)
        self.history.append(row)
        self.epoch, self.closing = epoch, True  # closing: writing the epoch's files (an interrupt says so)
        for callback in self.callbacks:
            callback.on_epoch_end(self, row)
        self.closing = False
        if self.replacing and any(isinstance(callback, Checkpoints) for callback in self.callbacks):
            self._settle_replaced(keep_new=True)  # this epoch's checkpoint is written: the old run can go

    def _start(self, resume: bool, overwrite: bool) -> RunLock | None:
        """Restore ``last.pt`` or start a fresh run folder; rank 0 decides and every rank follows.

        Rank 0 first takes the folder's lock (one training per run folder; rank 0 writes for all)
        and returns it, held.
        """
        last = self.out_dir / "checkpoints" / "last.pt"
        payload, error, lock = None, None, None
        if self.ranks.is_main:
            try:
                lock = RunLock.take(check_out_dir(self.out_dir))
                clear_stale_temporaries(self.out_dir)
                recover(self.out_dir)
                if resume and last.is_file():
                    payload = read_checkpoint(last, map_location="cpu" if self.ranks.active else self.device)
                elif resume and (self.out_dir / "checkpoints" / "best.pt").is_file():  # killed between the two
                    best = self.out_dir / "checkpoints" / "best.pt"
                    raise TrainingError(
                        f"{self.out_dir} has no checkpoints/last.pt to resume from, but {best} is there (the run "
                        f"stopped while writing last.pt): copy it, cp {best} {last}, then --resume continues after "
                        "best.pt's epoch"
                    )
                elif resume and holds_run(self.out_dir):  # it stopped before its first checkpoint
                    raise TrainingError(
                        f"{self.out_dir} holds a run but no checkpoints/last.pt to resume from (it stopped before "
                        "its first checkpoint, or the file was moved); --overwrite starts it again"
                    )
                else:
                    if resume:  # a batch job may always pass --resume: its first start trains afresh
                        log.warning("%s: no run to resume there yet; starting a new one", self.out_dir)
                    self._prepare_fresh(last, overwrite)
            except VaeganError as caught:
                error = caught
                if self.replacing:  # the old run back before the lock goes
                    self._settle_replaced(keep_new=False)
                if lock is not None:  # refused: the folder is left as it was found
                    lock.give_up()
        if self.ranks.active:  # rank 0's verdict reaches every rank, so none waits for a rank that gave up
            failure, payload = self.ranks.share((None if error is None else str(error), payload))
            if error is None and failure is not None:
                raise TrainingError(f"rank 0 stopped: {failure}")
        if error is not None:
            raise error
        try:
            if payload is not None:
                self._load(payload, last)
            else:
                torch.manual_seed(self.config.seed)
            self.ranks.broadcast_module(self.model)  # identical weights everywhere, whatever each rank built
        except BaseException:  # refused (another model's last.pt): the lock goes now, not with the traceback
            if lock is not None:
                lock.release()
            raise
        return lock

    def _prepare_fresh(self, last: Path, overwrite: bool) -> None:
        # refuses a run there unless overwrite; then sets only the run's own files aside until a checkpoint
        self.replacing = prepare_fresh(self.out_dir, overwrite)
        if self.run_config is not None:  # the resolved config, trainable again with --config
            write_text_atomic(self.out_dir / "config.yaml", yaml.safe_dump(self.run_config, sort_keys=False))
        held = self.data.subjects()
        if held is not None:  # which subjects it learned from: later commands hold out the same ones
            drawn = phantom_versions_read(self.data.loaded) if self.data.loaded is not None else None
            held |= {"phantoms": drawn} if drawn else {}  # and, on phantoms, which truth maps and anatomy
            write_text_atomic(self.out_dir / SUBJECTS_FILE, json.dumps(held, indent=1) + "\n")
        torch.manual_seed(self.config.seed)

    def spans(self) -> list[tuple[int, int]]:
        """(start, stop) of each global batch in an epoch's order; a rest too small for batch norm (under
        2 images a rank) is left out, and so is not counted as a step of the learning-rate schedule."""
        n, size = len(self.data.train), self.config.batch_size
        return [(s, min(s + size, n)) for s in range(0, n, size) if min(s + size, n) - s >= 2 * self.ranks.world_size]

    def batches(self, epoch: int):
        """Shuffled batches; the order depends only on (seed, epoch), so resume is exact.

        Each rank takes its part of every global batch. On the fast path the
        images are sliced on the device; streamed, they are read a few batches
        ahead from RAM or from their memory-mapped file.
        """
        n = len(self.data.train)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.config.seed * 100_003 + epoch))
        spans = self.spans()
        if self.train_x is not None:
            order = order.to(self.device)
            for start, stop in spans:
                index, self.ranks.grad_weight = self.ranks.shard(order[start:stop])
                yield self._batch(self.train_x.index_select(0, index), index)
        else:
            on_device = order.to(self.device)  # once an epoch: a copy per batch waited for the GPU's queue
            shards = [(self.ranks.shard(order[a:b]), self.ranks.shard(on_device[a:b])[0]) for a, b in spans]
            images = prefetch(self.reader, [index for (index, _), _ in shards], self.device)
            for ((_, weight), index), x in zip(shards, images):
                self.ranks.grad_weight = weight
                yield self._batch(x, index)

    def _batch(self, x: torch.Tensor, index: torch.Tensor) -> Batch:
        x = x.contiguous(memory_format=self.memory_format)
        if self.binarize:
            x = torch.bernoulli(x)  # dynamic binarization: a fresh binary image every time
        return Batch(x, self.train_y.index_select(0, index))

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the training set; the mean of each loss term over all ranks' images."""
        self.model.train()
        sums: dict[str, torch.Tensor] = {}
        seen = 0
        steps = len(self.spans())
        bar = tqdm(
            self.batches(epoch),
            total=steps,
            desc=bar_label(epoch, self.config.epochs, self.ranks.world_size),
            disable=not (self.config.progress and self.ranks.is_main),
            leave=False,
            dynamic_ncols=True,
        )
        guard, lr = FiniteGuard(self, epoch), None
        for step, batch in enumerate(bar, start=1):
            lr = self.rate.step((epoch - 1 + (step - 1) / steps) / self.config.epochs)
            terms = self._train_step(batch)
            guard.update(step, terms)
            b = len(batch.x)
            for key, value in terms.items():
                sums[key] = sums[key] + value.float() * b if key in sums else value.float() * b
            seen += b
            if not bar.disable and (step % 25 == 0 or step == steps):  # reading the sums back waits for the GPU
                bar.set_postfix({k: f"{float(v) / seen:.4g}" for k, v in sums.items()}, refresh=False)
        guard.check()
        bar.close()
        means = self.ranks.means(sums, seen)
        return means if lr is None else {**means, "lr": lr}  # the rate of the epoch's last step

    def _train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        try:
            with self.autocast():
                return self.model.train_step(batch, self.optimizers)
        except RuntimeError as error:  # a model that does not name such a network in differentiated_twice()
            if self.config.compile and "double backward" in str(error):
                raise TrainingError(
                    f"train.compile=true: model {self.model.config.name} differentiates the gradient of a "
                    "compiled network (a gradient penalty), which torch.compile cannot take; name that network "
                    "in the model's differentiated_twice() (GAN objectives: second_order = True), or set "
                    "train.compile=false"
                ) from None
            raise

    @torch.no_grad()
    def evaluate(self, dataset: ImageDataset) -> dict[str, float]:
        """Mean eval_step terms over ``dataset``, with fixed noise so epochs compare.

        In batches of ``eval_batch_size``; of the training's ``batch_size`` for a model whose terms are
        statistics of the batch (:meth:`GenerativeModel.batch_statistics`), where a last batch under half
        that size joins the one before it: a beta-TCVAE's total correlation of a batch of one image is
        (D - 1) log N, whatever the model. Under torchrun the ranks take whole batches in turn (rank r:
        batches r, r + W, ...), each batch with noise of its own, so the figures are one process's at any
        world size (and best.pt compares across a resume at another one).
        """
        self.model.eval()
        size, least = self.config.eval_batch_size, 1
        if self.model.batch_statistics():  # and a rest under half a batch joins the batch before it
            size = max(2, self.config.batch_size)
            least = size // 2
        sums: dict[str, torch.Tensor] = {}
        devices = [self.device] if self.device.type == "cuda" else []
        spans, ranks, seen = eval_spans(len(dataset), size, least), self.ranks, 0
        with torch.random.fork_rng(devices=devices):
            for index in range(ranks.rank, len(spans), ranks.world_size):  # this rank's batches
                start, stop = spans[index]
                torch.manual_seed(self.config.seed + 1 + index)
                x = dataset.images[start:stop].to(self.device, torch.float32)  # a file may hold float16
                x = x.contiguous(memory_format=self.memory_format)
                y = dataset.labels[start:stop].to(self.device)
                if self.binarize:
                    x = torch.bernoulli(x)
                with self.autocast():
                    terms = self.model.eval_step(Batch(x, y))
                for key, value in terms.items():  # float64 on the device: no host sync per batch
                    sums[key] = sums.get(key, 0.0) + value.double() * len(x)
                seen += len(x)
        return ranks.means(sums, seen)

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
        self._load(read_checkpoint(path, map_location=self.device), path)

    def _load(self, payload: dict, path: Path) -> None:
        try:
            self.model.load_state_dict(payload["model"])
            for name, optimizer in self.optimizers.items():
                # the moments come from the checkpoint; the rate, betas and decay from this config (an
                # accepted --set model.lr=... is then used, not only written into config.yaml)
                settings = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
                optimizer.load_state_dict(payload["optimizers"][name])
                for group, setting in zip(optimizer.param_groups, settings):
                    group.update(setting)
        except (KeyError, RuntimeError, ValueError) as error:
            raise TrainingError(f"{path}: does not match this model/config: {error}") from None
        self.epoch, self.best, self.history = payload["epoch"], payload["best"], payload["history"]
        set_rng_state(payload["rng"])
        log.info("resumed %s at epoch %d", path, self.epoch)
