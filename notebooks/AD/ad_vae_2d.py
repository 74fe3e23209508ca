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
# # An unconditional VAE on T1w slices: does its code find AD by itself?
#
# `ad_vae_2d` sees coronal slices through the hippocampi and never the diagnosis. If AD shapes the
# brains, the code must hold it to reconstruct them; a classifier on the code measures how well.
#
# `VAEGAN_QUICK=1`: 12 phantom subjects at 32^3, a small network, 1 epoch (seconds, what CI runs); what it
# shows is noise. Without it: the config as shipped, on 200 phantom subjects; `benchmarks/ad_effects.md`
# has what that run gives. Outputs go to a temporary folder (quick) or `notebooks/AD/outputs/`.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from vaegan.config import load_config
from vaegan.experiment import load_data, train_from_config
from vaegan.runs import load_run
from vaegan.visualization.disease_effects import latent_auc

QUICK = bool(os.environ.get("VAEGAN_QUICK"))
QUICK_SETTINGS = [
    "data.mri.phantom_subjects=12",
    "data.mri.phantom_spacing=5",
    "data.mri.size=32",
    "model.network.channels=[8,16]",
    "model.network.hidden=[64]",
    "model.latent_dim=8",
    "train.epochs=1",
    "train.batch_size=16",
]
OUT = Path(tempfile.mkdtemp()) if QUICK else Path("outputs")  # run from notebooks/AD: notebooks/AD/outputs
overrides = [
    *(QUICK_SETTINGS if QUICK else []),
    "train.progress=false",
    "data.mri.progress=false",
    "train.tensorboard=false",
    f"out={OUT / 'ad_vae_2d'}",
]

# %% [markdown]
# ## Train (or reuse the trained run)
# The config names the `phantoms` dataset without a folder: the phantoms are generated into the cache on
# first use. Subjects, not slices, are split into train, validation and test.

# %%
config = load_config("ad_vae_2d", overrides)
if QUICK or not (config.out_dir / "checkpoints" / "best.pt").is_file():
    train_from_config(config, overwrite=True)
model = load_run(config.out_dir).model
mri = config.data.mri
splits = load_data(config)
print(model.name, "on", len(splits.train), "training images of shape", splits.image_shape)

# %% [markdown]
# ## What it draws after training
# Validation slices above their reconstructions; samples from the prior.

# %%
last = max(int(p.name[5:8]) for p in config.out_dir.glob("epoch*_recons.png"))
fig, axes = plt.subplots(1, 2, figsize=(10, 5), squeeze=False)
for ax, name in zip(axes[0], ("recons", "fakes")):
    ax.imshow(plt.imread(config.out_dir / f"epoch{last:03d}_{name}.png"), cmap="gray")
    ax.set_title(name)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Does the code carry the diagnosis?
# A logistic regression on the latent means, fitted on the training subjects, scored on the test subjects
# (never one subject on both sides), per image and per subject (mean over its images).

# %%
print(latent_auc(model, splits.train, splits.test))
