"""Where the training images live (on the device, or streamed) and in which memory layout."""

from __future__ import annotations

import torch

from vaegan.data.streaming import available_memory, file_rows, local_processes, nbytes
from vaegan.training.config import TrainConfig


def placement(setting: str, images: torch.Tensor, device: torch.device) -> str:
    """``device`` (all training images on the device) or ``stream`` (read ahead in batches): train.data_on_device."""
    if setting != "auto":
        return "device" if setting == "always" else "stream"
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
    elif file_rows(images) is not None:  # on disk: load it only if it fits comfortably in this process's share
        free = available_memory() // local_processes()  # of RAM (each rank of torchrun loads its own copy)
    else:
        return "device"  # already in RAM: the CPU's "device" copy is the tensor itself
    return "device" if nbytes(images) <= free // 2 else "stream"


def memory_format(config: TrainConfig, image_dims: int) -> torch.memory_format:
    """``train.channels_last`` -> the layout for (B, C, H, W) or (B, C, D, H, W) tensors."""
    if not config.channels_last:
        return torch.contiguous_format
    return {3: torch.channels_last, 4: torch.channels_last_3d}.get(image_dims, torch.contiguous_format)
