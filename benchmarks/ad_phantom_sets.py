"""The phantom sets ``ad_effects.py`` measures on: the default set, its atrophy-scaled copies, the twins.

The twins are the set at atrophy scale 0: each subject without its disease, the ceiling's
counterfactual (``true_counterfactual_maps``).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from vaegan.config import RunConfig
from vaegan.data.mri import MRIVolumes, phantom_folder, phantom_path, read_volumes
from vaegan.data.phantoms import phantom_settings, write_phantoms
from vaegan.data.shared_folder import build_once
from vaegan.foundation.files import cache_dir


def prepare_phantoms(config: RunConfig) -> str:
    """Generate and preprocess the phantom set up front (cached for every run after), timed.

    Returns "" when the set was already in the cache: there was nothing to time.
    """
    mri = config.data.mri
    if (phantom_path(mri) / "participants.tsv").is_file():
        return ""
    started = time.perf_counter()
    folder = phantom_folder(mri)
    generated = time.perf_counter() - started
    read_volumes(folder, mri)
    preprocessed = time.perf_counter() - started - generated
    return (
        f"Phantoms: {mri.phantom_subjects} subjects at {mri.phantom_spacing:g} mm, generated in {generated:.0f} s "
        f"and preprocessed to {mri.size}^3 in {preprocessed:.0f} s on first use (0 s when cached)."
    )


def strength_folder(config: RunConfig, scale: float) -> Path:
    """The config's phantom set with every AD subject's atrophy scaled by ``scale`` (cached; 1: the default set)."""
    mri = config.data.mri
    if scale == 1.0:
        return phantom_folder(mri)
    n, seed, spacing = mri.phantom_subjects, mri.phantom_seed, mri.phantom_spacing
    target = cache_dir() / "phantoms" / f"n{n}-seed{seed}-{spacing:g}mm-atrophy{scale:g}"

    def build(folder: Path) -> None:
        write_phantoms(folder, subjects=n, seed=seed, spacing=spacing, atrophy_scale=scale)

    return build_once(target, phantom_settings(n, seed, spacing, scale), build)


def twins_of(twins: MRIVolumes, test: MRIVolumes) -> torch.Tensor:
    """The mask of ``twins`` that holds ``test``'s subjects, in their order (both sets list subjects alike).

    Raises:
        ValueError: the twins' controls are not ``test``'s controls (another seed's or size's phantoms,
            whose subject ids look the same): twins differ from their subjects only where there is atrophy.
    """
    wanted = set(test.subjects)
    mask = torch.tensor([subject in wanted for subject in twins.subjects])
    matched = twins.select(mask)
    controls = test.labels == 0
    apart = (
        (matched.volumes[controls] - test.volumes[controls]).abs().mean() if matched.subjects == test.subjects else 1
    )
    if apart > 0.01:  # not exact: a registration's multithreaded metric may differ in the last bits
        raise ValueError(
            f"{Path(twins.paths[0]).parent.parent}: not the healthy twins of the measured phantoms (their "
            "controls differ); the ceiling needs the same --subjects, --seed and --spacing with --atrophy-scale 0"
        )
    return mask
