"""How faithfully a model with an encoder gives its input back: MSE, PSNR and SSIM (torchmetrics).

Each image is encoded to its code (the posterior mean for a VAE) and decoded to
its mean image. PSNR and SSIM (Wang et al. 2004) are per-image values averaged
over the set, on a data range of 1 (images in [0, 1]); SSIM handles 2-D and 3-D.

Example:
    >>> ae = AutoEncoder(AutoEncoderConfig(latent_dim=8))  # doctest: +SKIP
    >>> reconstruction_metrics(ae, test.images[:500], test.labels[:500])  # doctest: +SKIP
    {'mse': 0.0061, 'psnr': 23.1, 'ssim': 0.89}

:func:`explained_variance` asks how much of each subject a model reproduces beyond the mean
image, beside a PCA with as many components as the model's code.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import MeanSquaredError
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from vaegan.models.base import GenerativeModel
from vaegan.models.vae import map_codes

__all__ = ["explained_variance", "reconstruction_metrics"]


def _metrics(image_shape: tuple[int, ...]) -> dict[str, object]:
    reduce_over = tuple(range(1, len(image_shape) + 1))  # every axis but the batch: one PSNR per image
    # SSIM's Gaussian window is 11 wide at sigma 1.5 (Wang et al. 2004); narrower (odd) for images smaller
    # than that, with sigma scaled alike: torchmetrics sizes the window from sigma, int(3.5 sigma + 0.5) * 2 + 1
    window = min(11, min(image_shape[1:]))
    window -= window % 2 == 0
    return {
        "mse": MeanSquaredError(),
        "psnr": PeakSignalNoiseRatio(data_range=1.0, reduction="elementwise_mean", dim=reduce_over),
        "ssim": StructuralSimilarityIndexMeasure(data_range=1.0, kernel_size=window, sigma=1.5 * window / 11),
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
            x = images[start : start + batch_size].to(model.device, torch.float32)
            y = labels[start : start + batch_size].to(model.device) if model.conditional else None
            yield model.reconstruct(x, y), x

    return _score(pairs(), tuple(images.shape[1:]))


@torch.no_grad()
def explained_variance(
    model: GenerativeModel,
    reference: Tensor,
    test: Tensor,
    labels: Tensor | None = None,
    *,
    batch_size: int = 16,
    refine: int = 0,
) -> dict[str, float]:
    """How much of the test images' variation around the mean image the reconstructions reproduce.

    ``explained`` = 1 - MSE(reconstruction, x) / MSE(mean reference image, x) on ``test``: 0 draws
    every subject as the mean brain, 1 reproduces it exactly, below 0 is worse than the mean.
    ``pca_explained`` is the same for a PCA of ``reference`` with as many components as the model's
    code (``pca_components``): a linear code of that size, the floor a deep model should clear.

    Args:
        reference: (M, C, *S) the images the model learned from (their mean and PCA).
        test: (N, C, *S) other images to score on; ``labels`` (N,) for conditional models.
        refine: decode the VAE's MAP codes after that many steps (:meth:`~vaegan.models.VAE.map_code`)
            instead of the encoder's means.
    """
    from sklearn.decomposition import PCA

    if not model.has_encoder:
        raise ValueError(f"{type(model).__name__} has no encoder, so nothing to reconstruct")
    if model.conditional and labels is None:
        raise ValueError(f"{type(model).__name__} is conditional: give the test images' labels to reconstruct them")
    model.eval()
    reference, test = torch.as_tensor(reference), torch.as_tensor(test)  # file-backed images too
    x = test.float().flatten(1)
    mean = reference.float().flatten(1).mean(0)
    around_mean = (x - mean).pow(2).mean()
    drawn = []
    for start in range(0, len(test), batch_size):
        batch = test[start : start + batch_size].float().to(model.device)
        y = labels[start : start + batch_size].to(model.device) if model.conditional else None
        if refine:
            drawn.append(model.generate(map_codes(model, batch, y, steps=refine), y).float().cpu().flatten(1))
        else:
            drawn.append(model.reconstruct(batch, y).float().cpu().flatten(1))
    k = min(model.config.latent_dim, len(reference) - 1)
    pca = PCA(k, svd_solver="randomized", random_state=0).fit(reference.float().flatten(1).numpy())
    linear = torch.from_numpy(pca.inverse_transform(pca.transform(x.numpy()))).float()
    return {
        "explained": float(1 - (torch.cat(drawn) - x).pow(2).mean() / around_mean),
        "pca_explained": float(1 - (linear - x).pow(2).mean() / around_mean),
        "pca_components": k,
    }
