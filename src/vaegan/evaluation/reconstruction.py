"""How faithfully a model with an encoder gives its input back: MSE, PSNR and SSIM (torchmetrics).

Each image is encoded to its code (the posterior mean for a VAE) and decoded to
its mean image. PSNR and SSIM (Wang et al. 2004) are per-image values averaged
over the set, on a data range of 1 (images in [0, 1]); SSIM handles 2-D and 3-D.

Example:
    >>> ae = AutoEncoder(AutoEncoderConfig(latent_dim=8))  # doctest: +SKIP
    >>> reconstruction_metrics(ae, test.images[:500], test.labels[:500])  # doctest: +SKIP
    {'mse': 0.0061, 'psnr': 23.1, 'ssim': 0.89}
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import MeanSquaredError
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from vaegan.models.base import GenerativeModel

__all__ = ["reconstruction_metrics"]


def _metrics(image_shape: tuple[int, ...]) -> dict[str, object]:
    reduce_over = tuple(range(1, len(image_shape) + 1))  # every axis but the batch: one PSNR per image
    # SSIM's Gaussian window is 11 wide (Wang et al. 2004); narrower (odd) for images smaller than that
    window = min(11, min(image_shape[1:]))
    return {
        "mse": MeanSquaredError(),
        "psnr": PeakSignalNoiseRatio(data_range=1.0, reduction="elementwise_mean", dim=reduce_over),
        "ssim": StructuralSimilarityIndexMeasure(data_range=1.0, kernel_size=window - (window % 2 == 0)),
    }


@torch.no_grad()
def _score(pairs, image_shape: tuple[int, ...]) -> dict[str, float]:
    metrics = _metrics(image_shape)
    for recon, x in pairs:
        recon, x = recon.float().cpu().clamp(0, 1), x.float().cpu()
        metrics["mse"].update(recon.flatten(), x.flatten())
        metrics["psnr"].update(recon, x)
        metrics["ssim"].update(recon, x)
    return {name: float(metric.compute()) for name, metric in metrics.items()}


def reconstruction_metrics(
    model: GenerativeModel, images: Tensor, labels: Tensor | None = None, *, batch_size: int = 500
) -> dict[str, float]:
    """MSE per pixel, PSNR (dB) and SSIM between ``images`` (N, C, *S) and their reconstructions.

    Raises:
        ValueError: the model has no encoder.
    """
    if not model.has_encoder:
        raise ValueError(f"{type(model).__name__} has no encoder, so nothing to reconstruct")
    model.eval()

    def pairs():
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(model.device)
            y = labels[start : start + batch_size].to(model.device) if model.conditional else None
            yield model.reconstruct(x, y), x

    return _score(pairs(), tuple(images.shape[1:]))
