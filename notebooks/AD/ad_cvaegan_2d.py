# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # CVAE-GAN on T1w slices: CN vs AD, sharper
#
# `ad_cvaegan_2d` (Bao et al. 2017) is a conditional VAE whose decoder also matches a discriminator's
# and a classifier's features. It has an encoder and a label, so its disease maps can be drawn and
# scored like the conditional VAE's.
#
# `VAEGAN_QUICK=1`: 12 phantom subjects at 32^3, a small network, 1 epoch (seconds, what CI runs); what it
# shows is noise. Without it: the config as shipped, on 200 phantom subjects; `benchmarks/ad_effects.md`
# has what that run gives. Outputs go to a temporary folder (quick) or `notebooks/AD/outputs/`.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Image, display

from vaegan.config import load_config
from vaegan.data.mri import phantom_folder, read_volumes, split_subjects
from vaegan.data.phantoms import ATROPHY_SUFFIX
from vaegan.experiment import load_data, train_from_config
from vaegan.runs import load_run
from vaegan.visualization.brain import plot_effect_maps
from vaegan.visualization.disease_effects import individual_maps, summarize_effects

QUICK = bool(os.environ.get("VAEGAN_QUICK"))
QUICK_SETTINGS = [
    "data.mri.phantom_subjects=12",
    "data.mri.phantom_spacing=5",
    "data.mri.size=32",
    "model.network.channels=[8,16]",
    "model.network.hidden=[64]",
    "model.latent_dim=8",
    "model.discriminator.channels=[8,16]",
    "model.discriminator.hidden=[32]",
    "model.classifier.channels=[8,16]",
    "model.classifier.hidden=[32]",
    "train.epochs=1",
    "train.batch_size=16",
]
OUT = Path(tempfile.mkdtemp()) if QUICK else Path("outputs")  # run from notebooks/AD: notebooks/AD/outputs
overrides = [
    *(QUICK_SETTINGS if QUICK else []),
    "train.progress=false",
    "data.mri.progress=false",
    "train.tensorboard=false",
    f"out={OUT / 'ad_cvaegan_2d'}",
]

# %% [markdown]
# ## Train (or reuse the trained run)
# The config names the `phantoms` dataset without a folder: the phantoms are generated into the cache on
# first use. Subjects, not slices, are split into train, validation and test.

# %%
config = load_config("ad_cvaegan_2d", overrides)
if QUICK or not (config.out_dir / "checkpoints" / "best.pt").is_file():
    train_from_config(config, overwrite=True)
model = load_run(config.out_dir).model
mri = config.data.mri
splits = load_data(config)
print(model.name, "on", len(splits.train), "training images of shape", splits.image_shape)

# %% [markdown]
# ## What it draws after training
# Reconstructions; samples, row 1 CN, row 2 AD.

# %%
last = max(int(p.name[5:8]) for p in config.out_dir.glob("epoch*_recons.png"))
fig, axes = plt.subplots(1, 2, figsize=(10, 5), squeeze=False)
for ax, name in zip(axes[0], ("recons", "fakes")):
    ax.imshow(plt.imread(config.out_dir / f"epoch{last:03d}_{name}.png"), cmap="gray")
    ax.set_title(name)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## The test subjects, with their true atrophy maps
# `read_volumes` reads the preprocessed volumes (cached) and, beside each, its true atrophy map,
# transformed identically; `split_subjects` is the training's subject split.

# %%
volumes = read_volumes(phantom_folder(mri), mri, maps_suffix=ATROPHY_SUFFIX)
test = volumes.select(split_subjects(volumes.subjects, volumes.labels, mri.test_size))
print(f"{len(test.subjects)} test subjects:", dict(zip(["CN", "AD"], test.labels.bincount().tolist())))

# %% [markdown]
# ## Group map: what AD does, by the model and by the raw data
# Each test CN subject encoded with CN and decoded as CN and as AD (8 posterior draws), averaged: the
# model's disease-effect map, against the mean true atrophy of the test AD subjects and the raw group
# difference of the same subjects. r: Pearson correlation inside the brain.

# %%
summary = summarize_effects(model, test, mri, samples=8)
print(f"r(model map, true atrophy) = {summary.r_model:.2f}; r(raw group difference) = {summary.r_group:.2f}")
display(Image(str(plot_effect_maps(summary, mri, OUT / "effects.png", title=config.name))))

# %% [markdown]
# ## Individual maps: each AD subject without AD
# Encode with AD, decode as CN and as AD, subtract (a residual counterfactual: the reconstruction error
# cancels), and correlate with the subject's own true atrophy. `individual_disease_maps.py` goes further.

# %%
maps = individual_maps(model, test, mri, samples=8)
low, median, high = maps.quartiles()
print(
    f"{len(maps.subjects)} AD subjects: median r = {median:.2f} [IQR {low:.2f} .. {high:.2f}]; "
    f"model-free median r = {maps.quartiles(baseline=True)[1]:.2f}"
)
