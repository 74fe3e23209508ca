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
# # An auxiliary-classifier GAN on T1w slices: CN vs AD
#
# `ad_acgan_2d` (Odena et al. 2017): the label picks the diagnosis, the noise the brain. It has no
# encoder, so it cannot say what AD did to a given subject, only what the label changes in what it draws.
#
# `VAEGAN_QUICK=1`: 12 phantom subjects at 32^3, a small network, 1 epoch (seconds, what CI runs); what it
# shows is noise. Without it: the config as shipped, on 200 phantom subjects; `benchmarks/ad_effects.md`
# has what that run gives. Outputs go to a temporary folder (quick) or `notebooks/AD/outputs/`.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from vaegan.config import load_config
from vaegan.data.mri import phantom_folder, read_volumes, split_subjects
from vaegan.data.mri_transforms import to_slices
from vaegan.data.phantoms import ATROPHY_SUFFIX
from vaegan.experiment import load_data, train_from_config
from vaegan.runs import load_run
from vaegan.visualization.disease_effects import pearson

QUICK = bool(os.environ.get("VAEGAN_QUICK"))
QUICK_SETTINGS = [
    "data.mri.phantom_subjects=12",
    "data.mri.phantom_spacing=5",
    "data.mri.size=32",
    "model.network.channels=[8,16]",
    "model.discriminator.channels=[8,16]",
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
    f"out={OUT / 'ad_acgan_2d'}",
]

# %% [markdown]
# ## Train (or reuse the trained run)
# The config names the `phantoms` dataset without a folder: the phantoms are generated into the cache on
# first use. Subjects, not slices, are split into train, validation and test.

# %%
config = load_config("ad_acgan_2d", overrides)
if QUICK or not (config.out_dir / "checkpoints" / "best.pt").is_file():
    train_from_config(config, overwrite=True)
model = load_run(config.out_dir).model
mri = config.data.mri
splits = load_data(config)
print(model.name, "on", len(splits.train), "training images of shape", splits.image_shape)

# %% [markdown]
# ## What it draws after training
# Samples: row 1 CN, row 2 AD, the same noise down each column.

# %%
last = max(int(p.name[5:8]) for p in config.out_dir.glob("epoch*_fakes.png"))
fig, axes = plt.subplots(1, 1, figsize=(5, 5), squeeze=False)
for ax, name in zip(axes[0], ("fakes",)):
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
# ## What the label changes
# One noise vector drawn as CN and as AD: the difference, averaged over 256 draws, is the generator's
# idea of AD. A GAN has no encoder, so it cannot map a given subject; its images are slices at random
# positions, so the map is compared with the true atrophy averaged over the test AD subjects' slices.

# %%
z = model.prior_noise(256, torch.Generator().manual_seed(0))
with torch.no_grad():
    as_cn = model.generate(z, torch.zeros(256, dtype=torch.long)).cpu()
    as_ad = model.generate(z, torch.ones(256, dtype=torch.long)).cpu()
loss = (as_cn - as_ad).mean(0)[0]  # (H, W): intensity the generator removes for AD
truth, _ = to_slices(test.maps[test.labels == 1], mri.slice_axis, mri.slice_range, mri.slice_step)
images, _ = to_slices(test.volumes, mri.slice_axis, mri.slice_range, mri.slice_step)
truth, brain = truth.mean(0)[0], images.mean(0)[0] > 0.1
print(f"r(generator's AD map, mean true atrophy) = {pearson(loss, truth, brain):.2f}")
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, (image, title) in zip(axes, [(as_cn[0, 0], "one draw as CN"), (loss, "mean CN - AD"), (truth, "true atrophy")]):
    ax.imshow(image, cmap="gray" if title.startswith("one") else "hot")
    ax.set_title(title)
    ax.axis("off")
plt.show()
