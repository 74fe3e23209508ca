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
# # Individual disease maps: "this subject without AD"
#
# A group map says where AD takes tissue on average. An individual map says where it took tissue from
# *this* patient: encode the AD subject with the label AD, decode the code as CN, and subtract the
# subject. On phantoms each subject's true atrophy is saved beside its image, so every map can be scored.
#
# The counterfactual is *residual*: `x + decode(z, CN) - decode(z, AD)`. The reconstruction error
# `x - decode(z, AD)` is the same in both decodings and cancels, so the map holds only what the label
# changes. The plain counterfactual `decode(z, CN) - x` keeps that error, and a blurry decoder's error
# looks like atrophy (dark, thin structures are what it smooths away), so it can score well for the wrong
# reason. The model-free baseline is the mean CN image minus the subject.
#
# `VAEGAN_QUICK=1`: 12 phantom subjects at 32^3, a small network, 1 epoch (seconds, what CI runs); its
# maps are noise. Without it: the config as shipped (200 subjects); `benchmarks/ad_effects.md` has the
# figures that run gives.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import Image, display

from vaegan.config import load_config
from vaegan.data.mri import phantom_folder, read_volumes, split_subjects
from vaegan.data.phantoms import ATROPHY_SUFFIX
from vaegan.experiment import train_from_config
from vaegan.runs import load_run
from vaegan.visualization.brain import plot_individual_maps
from vaegan.visualization.disease_effects import individual_maps

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
    f"out={OUT / 'ad_cvae_2d'}",
]

# %% [markdown]
# ## A conditional VAE on coronal slices (trained once, reused after)

# %%
config = load_config("ad_cvae_2d", overrides)
if QUICK or not (config.out_dir / "checkpoints" / "best.pt").is_file():
    train_from_config(config, overwrite=True)
model = load_run(config.out_dir).model
mri = config.data.mri
volumes = read_volumes(phantom_folder(mri), mri, maps_suffix=ATROPHY_SUFFIX)
test = volumes.select(split_subjects(volumes.subjects, volumes.labels, mri.test_size))  # the training's split
print(f"{len(test.subjects)} test subjects:", dict(zip(["CN", "AD"], test.labels.bincount().tolist())))

# %% [markdown]
# ## Every test AD subject, scored against its own atrophy
# Residual and plain counterfactuals, and the model-free map, on the same subjects; each map averaged
# over 8 posterior draws. r is the Pearson correlation inside the brain.

# %%
residual = individual_maps(model, test, mri, samples=8)
plain = individual_maps(model, test, mri, samples=8, residual=False)
for name, (low, median, high) in {
    "residual counterfactual": residual.quartiles(),
    "plain counterfactual": plain.quartiles(),
    "model-free (mean CN - subject)": residual.quartiles(baseline=True),
}.items():
    print(f"{name:32s} median r = {median:.2f}  [IQR {low:.2f} .. {high:.2f}]")

fig, ax = plt.subplots(figsize=(6, 3))
ax.boxplot([residual.r, plain.r, residual.r_baseline], tick_labels=["residual", "plain", "model-free"])
ax.set_ylabel("r with own true atrophy")
plt.show()

# %% [markdown]
# ## Three subjects: their map over their own true atrophy

# %%
display(Image(str(plot_individual_maps(residual, mri, OUT / "individual.png", title="ad_cvae_2d"))))

# %% [markdown]
# ## One slice up close: the subject, as CN, and what AD took

# %%
i = int(torch.argmax(residual.r))  # the best-scored subject
position = residual.truth[i].flatten(1).sum(1).argmax()  # the slice with the most atrophy
panels = [
    (residual.images[i, position, 0], "AD subject", "gray"),
    ((residual.images + residual.loss)[i, position, 0], "as CN (residual)", "gray"),
    (residual.loss[i, position, 0], "model: tissue loss", "hot"),
    (residual.truth[i, position, 0], "true tissue loss", "hot"),
]
fig, axes = plt.subplots(1, 4, figsize=(14, 3.5))
for ax, (image, title, cmap) in zip(axes, panels):
    ax.imshow(image, cmap=cmap, vmin=0 if cmap == "gray" else None, vmax=1 if cmap == "gray" else None)
    ax.set_title(f"{residual.subjects[i]}: {title}")
    ax.axis("off")
plt.show()
