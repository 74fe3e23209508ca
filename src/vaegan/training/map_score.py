"""``val/map_r``: on phantoms, how well the model's disease map matches the true atrophy, during training.

Phantoms save each subject's true tissue loss, so a conditional model's group disease map
(:func:`~vaegan.visualization.disease_maps.summarize_effects`: the validation CN subjects encoded
with CN, decoded as AD minus decoded as CN) can be scored while it trains, against the validation AD
subjects' mean true atrophy. The test subjects stay untouched, so the figure can choose an epoch or
drive ``vaegan tune`` (``tune.metric: val/map_r``, ``direction: maximize``) without reaching the
test set. Scoring decodes the posterior means only: it draws no random numbers, and a run trains
exactly as it would without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from vaegan.foundation.errors import ConfigError
from vaegan.training.callbacks import Callback
from vaegan.visualization.disease_maps import default_classes, summarize_effects

if TYPE_CHECKING:
    from vaegan.data import ImageDataset
    from vaegan.data.config import MRIConfig
    from vaegan.data.mri import MRIVolumes
    from vaegan.training.trainer import Trainer


class MapScore(Callback):
    """Adds ``val/map_r`` to the epoch's row every ``every`` epochs and at the last one.

    It runs before the callbacks that write the row (metrics.csv, curves.png, TensorBoard).
    """

    def __init__(self, volumes: MRIVolumes, options: MRIConfig, every: int):
        self.volumes, self.options, self.every = volumes, options, every
        self.control, self.disease = default_classes(volumes.class_names)  # CN and AD by name, as vaegan effects

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        if trainer.epoch % self.every and trainer.epoch != trainer.config.epochs:
            return
        classes = {"control": self.control, "disease": self.disease}
        summary = summarize_effects(trainer.model, self.volumes, self.options, intervals=False, **classes)
        row["val/map_r"] = summary.r_model


def map_score(volumes: MRIVolumes, val: ImageDataset, options: MRIConfig, every: int) -> MapScore:
    """The callback scoring the subjects of ``val`` among ``volumes`` (read with their true maps).

    Raises:
        ConfigError: the volumes carry no true maps, or the validation split lacks a class (a group map
            compares the two).
    """
    if volumes.maps is None:
        raise ConfigError("train.score_maps_every scores maps against true atrophy, which only phantom sets carry")
    subjects = {val.group_names[g] for g in val.groups.unique().tolist()}
    scored = volumes.select(torch.tensor([subject in subjects for subject in volumes.subjects]))
    compared = default_classes(volumes.class_names)
    held = set(scored.labels.unique().tolist())
    if not set(compared) <= held:
        names = " and ".join(volumes.class_names[i] for i in compared)
        raise ConfigError(
            f"train.score_maps_every compares {names}; the {len(subjects)} validation subject(s) do not hold "
            "both: raise data.val_size (or list only the classes the data holds in data.mri.classes)"
        )
    return MapScore(scored, options, every)
