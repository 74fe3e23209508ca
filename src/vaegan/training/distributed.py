"""Data parallelism for the Trainer: one process per device, launched by ``torchrun``.

The model stays unwrapped (no ``DistributedDataParallel``), because the GANs
and the CVAE-GAN step several optimizers from their own ``train_step`` with
parts of the network frozen. Instead every optimizer gets a step pre-hook
that averages the gradients of *its own* parameters over the ranks, in one
flat bucket and one ``all_reduce``, just before it steps. A frozen player's
parameters belong to another optimizer (and have no gradient), so nothing
leaks from one player into the other, and no parameter is ever "unused".

Everything here is a no-op for a single process, so the Trainer calls it
unconditionally.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from vaegan.foundation.errors import TrainingError

log = logging.getLogger(__name__)


def launched() -> bool:
    """Whether torchrun (or another launcher setting RANK and WORLD_SIZE) started this process.

    Then the Trainer joins the process group, also with a single rank
    (``--nproc-per-node=1``: NCCL or gloo with one member, what the GPU check runs).
    """
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


@dataclass
class Ranks:
    """Where this process stands among the ranks; outside a process group, plain single-process training."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    grouped: bool = False  # in a process group: the collectives run (also with one rank)
    owns_group: bool = False  # we initialised the process group, so we destroy it
    grad_weight: float = field(default=1.0)  # this rank's share of the global batch * world_size

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.grouped

    # -- lifecycle ---------------------------------------------------------
    def close(self, finished: bool = False) -> None:
        """Destroy the process group if this object created it (on exit, success or failure).

        ``finished``: every rank got to the end, so they meet at a barrier first. Gloo's last
        collective can return on one rank while its messages are still in flight to another;
        a rank that tore down its connections then could abort the job at its very end.
        On failure there is no barrier: a rank that died would hold the others there.
        """
        if self.owns_group and dist.is_initialized():
            try:
                if finished:
                    dist.barrier()
            finally:
                dist.destroy_process_group()
        self.owns_group = False

    # -- collectives -------------------------------------------------------
    def share(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (pickled; keep tensors on the CPU)."""
        if not self.active:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order (pickled; for small per-epoch summaries)."""
        if not self.active:
            return [value]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, value)
        return out

    def means(self, sums: dict[str, Tensor], count: int) -> dict[str, float]:
        """Per-rank sums over ``count`` items -> the means over every rank's items (one small gather)."""
        totals: dict[str, float] = {}
        n = 0
        for part, part_count in self.gather(({k: float(v) for k, v in sums.items()}, count)):
            n += part_count
            for key, value in part.items():
                totals[key] = totals.get(key, 0.0) + value
        return {key: value / n for key, value in totals.items()}

    def any(self, flag: Tensor) -> bool:
        """True if ``flag`` (a 0-d bool tensor on the device) is true on any rank; one host sync."""
        if self.active:
            flag = flag.to(torch.int32)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag)

    def broadcast_module(self, module: nn.Module) -> None:
        """Copy rank 0's parameters and buffers to every rank, so all start from the same weights."""
        if not self.active:
            return
        by_dtype: dict[torch.dtype, list[Tensor]] = {}
        for tensor in module.state_dict(keep_vars=True).values():
            by_dtype.setdefault(tensor.dtype, []).append(tensor.data)
        with torch.no_grad():
            for group in by_dtype.values():  # one flat, contiguous buffer per dtype (any memory layout)
                flat = torch.cat([t.reshape(-1) for t in group])
                dist.broadcast(flat, src=0)
                for tensor, value in zip(group, flat.split([t.numel() for t in group])):
                    tensor.copy_(value.view_as(tensor))

    def average_buffers(self, module: nn.Module) -> None:
        """Average floating-point buffers (batch-norm running statistics) over the ranks.

        Each rank normalises over its own shard during training, so the running
        statistics drift apart; averaging them at each epoch end makes validation,
        grids and checkpoints see one model.
        """
        if not self.active:
            return
        buffers = [b for b in module.buffers() if b.is_floating_point()]
        if buffers:
            flat = torch.cat([b.detach().reshape(-1).float() for b in buffers])
            dist.all_reduce(flat)
            flat /= self.world_size
            for buffer, value in zip(buffers, flat.split([b.numel() for b in buffers])):
                buffer.copy_(value.view_as(buffer))

    def average_gradients(self, params: list[Tensor]) -> None:
        """Replace each ``.grad`` with its global-batch mean over the ranks (one ``all_reduce`` per dtype).

        Each rank's loss is a mean over its shard of ``b_r`` images; scaling its
        gradient by ``grad_weight = W * b_r / B`` before averaging gives the
        gradient of the mean over the whole global batch ``B``, also when the
        shards differ in size. A parameter without a gradient on every rank keeps
        ``grad = None`` (Adam would otherwise move it by momentum); one with a
        gradient on only some ranks gets their sum over ``W`` (zeros elsewhere).
        """
        by_dtype: dict[torch.dtype, list[Tensor]] = {}
        for p in params:
            by_dtype.setdefault(p.dtype, []).append(p)
        for group in by_dtype.values():
            pieces = [
                (p.grad.detach() * self.grad_weight if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                for p in group
            ]
            has_grad = torch.tensor([p.grad is not None for p in group], dtype=group[0].dtype, device=group[0].device)
            flat = torch.cat([*pieces, has_grad])  # (sum numel + P,)
            dist.all_reduce(flat)
            flat /= self.world_size
            values = flat.split([p.numel() for p in group] + [len(group)])
            # a rank holding every gradient knows each count > 0 without reading it back (no host sync)
            counts = [1.0] * len(group) if all(p.grad is not None for p in group) else values[-1].tolist()
            for p, value, count in zip(group, values[:-1], counts):
                if count > 0:  # in the parameter's own layout (channels-last): fused Adam walks both memories
                    p.grad = torch.empty_like(p).copy_(value.view(p.shape))
                else:
                    p.grad = None

    def hook_optimizers(self, optimizers: dict[str, torch.optim.Optimizer]) -> None:
        """Make every ``optimizer.step()`` average its own parameters' gradients over the ranks first."""
        if not self.active:
            return

        def average_then_step(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            self.average_gradients([p for group in optimizer.param_groups for p in group["params"]])

        for optimizer in optimizers.values():
            optimizer.register_step_pre_hook(average_then_step)

    def shard(self, index: Tensor) -> tuple[Tensor, float]:
        """This rank's contiguous part of a global batch's ``index``, and the ``grad_weight`` that goes with it."""
        if not self.active:
            return index, 1.0
        local = index.tensor_split(self.world_size)[self.rank]
        return local, self.world_size * len(local) / len(index)


def setup(device: str, *, timeout_s: float) -> tuple[Ranks, torch.device]:
    """Join the process group torchrun describes in the environment (if any) and pick this rank's device.

    Gloo on the CPU, NCCL on CUDA (one GPU per local rank). A collective that
    waits longer than ``timeout_s`` fails instead of hanging, so a rank that dies
    ends the job.
    """
    if not launched() and not dist.is_initialized():
        return Ranks(), resolve_device(device)
    owns = not dist.is_initialized()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = check_placement(device) == "cuda"
    if cuda:
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        chosen = torch.device("cuda", torch.cuda.current_device())
        if device.startswith("cuda:") and torch.device(device).index != chosen.index:
            log.warning(
                "train.device=%r: under torchrun each process trains on the GPU of its local rank, so local rank %d "
                "uses %s; ask for 'cuda' or 'auto' (and choose the GPUs with CUDA_VISIBLE_DEVICES)",
                device, local_rank, chosen,
            )  # fmt: skip
    else:
        chosen = torch.device("cpu")
    if owns:
        backend = "nccl" if cuda else "gloo"
        kwargs: dict[str, Any] = {"device_id": chosen} if cuda else {}
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s), **kwargs)
    ranks = Ranks(dist.get_rank(), dist.get_world_size(), local_rank, grouped=True, owns_group=owns)
    log.info("rank %d of %d on %s", ranks.rank, ranks.world_size, chosen)
    return ranks, chosen


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA if available, else the CPU; refuses a CUDA device that is not there."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError(f"train.device={name!r} but no CUDA device is available; use 'cpu' or 'auto'")
    device = torch.device(name)
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise TrainingError(
            f"train.device={name!r} but this machine has {torch.cuda.device_count()} CUDA device(s), "
            f"cuda:0 to cuda:{torch.cuda.device_count() - 1}"
        )
    return device


def check_placement(device: str, sync_bn: bool = False) -> str:
    """The kind of device (``cuda``, ``cpu``, ``mps``) training on ``device`` will use, from the settings alone;
    refuses what training would refuse once started: a CUDA device that is not there, more processes on
    this machine than GPUs (NCCL gives each its own), ``sync_bn`` (``train.sync_batchnorm``) off CUDA.
    So a config is refused before its cohort is read, and a study before it opens."""
    if launched():
        cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
        if cuda and not torch.cuda.is_available():
            raise TrainingError(f"train.device={device!r} but no CUDA device is available; use 'cpu' or 'auto'")
        local, count = int(os.environ.get("LOCAL_WORLD_SIZE", "1")), torch.cuda.device_count() if cuda else 0
        if cuda and local > count:
            raise TrainingError(
                f"{local} processes on this machine but {count} CUDA device(s): NCCL gives each process a GPU "
                f"of its own; start at most {count} (--nproc {count}) or train on the CPU (--device cpu)"
            )
        kind = "cuda" if cuda else "cpu"
    else:
        kind = resolve_device(device).type
    if sync_bn and kind != "cuda":
        raise TrainingError(SYNC_BN_NEEDS_CUDA)
    return kind


SYNC_BN_NEEDS_CUDA = (
    "train.sync_batchnorm=true needs CUDA: PyTorch's SyncBatchNorm runs on GPUs only. "
    "On the CPU each rank normalises over its own shard; set train.sync_batchnorm=false "
    "(or use model norms 'instance'/'none')"
)


def sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Batch norm over the global batch (``train.sync_batchnorm``); PyTorch implements it on CUDA only."""
    if device.type != "cuda":
        raise TrainingError(SYNC_BN_NEEDS_CUDA)
    return nn.SyncBatchNorm.convert_sync_batchnorm(module)
