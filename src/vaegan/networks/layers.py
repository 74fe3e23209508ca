"""Layer factories indexed by spatial dimensions, so one network class serves 2-D and 3-D."""

from __future__ import annotations

from torch import nn

from vaegan.networks.config import NetworkConfig

CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
CONV_TRANSPOSE = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
BATCH_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
INSTANCE_NORM = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}


def activation(config: NetworkConfig) -> nn.Module:
    if config.activation == "leaky_relu":
        return nn.LeakyReLU(0.2)  # the DCGAN slope (Radford et al. 2016)
    return {"relu": nn.ReLU, "elu": nn.ELU, "silu": nn.SiLU, "tanh": nn.Tanh}[config.activation]()


def norm(config: NetworkConfig, channels: int, spatial_dims: int) -> nn.Module:
    if config.norm == "batch":
        return BATCH_NORM[spatial_dims](channels)
    if config.norm == "instance":
        return INSTANCE_NORM[spatial_dims](channels, affine=True)
    return nn.Identity()


def dense_stack(sizes: list[int], config: NetworkConfig) -> nn.Sequential:
    """Linear layers with activations between consecutive ``sizes`` (no norm: works for batch 1)."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), activation(config)]
    return nn.Sequential(*layers)
