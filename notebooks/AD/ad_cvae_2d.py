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
# # A conditional VAE on T1w slices: CN vs AD
#
# `ad_cvae_2d` sees coronal slices through the hippocampi with the diagnosis as its label. The code holds
# the subject's anatomy, the label the disease: decoding one code with either label shows what the model
# thinks AD does to that brain, which phantoms, whose atrophy is known, can check. The shipped config adds a
# learned image per class to the decoder's output (`model.class_offsets`) and moves the output onto each
# subject's anatomy by a smooth deformation read from the code (`model.warp_points`); `ad_cvae_3d.ipynb`
# draws both.
#
# Real scans (ADNI, OASIS) cannot be shipped. The phantoms are synthetic brains of cognitively normal (CN)
# and AD subjects written as a BIDS folder that reads exactly like one, so the same code runs on your own
# scans with `data.dataset=mri` and `data.data_dir=YOUR_BIDS` (`docs/real_mri.md`).
#
# `VAEGAN_QUICK=1` (what CI runs): 12 phantom subjects at 32^3, small networks, 1 epoch, seconds; what it
# shows is noise. Without it: the config as shipped, on 200 phantom subjects, trained once into
# `outputs/ad_cvae_2d/` beside this notebook and reused after; `benchmarks/ad_effects.md` has what that run gives.

# %%
# %matplotlib inline
import csv
import json
import os

import matplotlib.pyplot as plt
import nibabel as nib
from IPython.display import Image, display
from nilearn import plotting

from vaegan.cli import main
from vaegan.data.mri import phantom_folder
from vaegan.data.phantoms import ATROPHY_SUFFIX
from vaegan.data.volumes import to_slices
from vaegan.exercises.ad_runs import ad_run, held_out_subjects
from vaegan.visualization.brain import plot_effect_maps
from vaegan.visualization.disease_codes import latent_auc
from vaegan.visualization.disease_effects import counterfactual, disease_effect
from vaegan.visualization.disease_maps import summarize_effects
from vaegan.visualization.figures import epoch_grids, image_row
from vaegan.visualization.subject_maps import individual_maps

# %% [markdown]
# ## Train (or reuse the trained run)
# `ad_run` loads the shipped config by name (made tiny in QUICK mode), trains it unless a finished run is
# there, and opens it. The config names the `phantoms` dataset without a folder, so the phantoms are
# generated into the cache on first use; their preprocessing (RAS, resampling, intensity normalisation
# inside the brain, cropping, resizing) is cached too. Subjects, not slices, are split into train,
# validation and test.

# %%
run = ad_run("ad_cvae_2d")
model, mri, splits = run.model, run.config.data.mri, run.load_data()
for name in ("train", "val", "test"):
    split = getattr(splits, name)
    subjects = len(split.groups.unique())
    print(f"{name:5s} {len(split):5d} slices of {subjects:3d} subjects, image shape {split.image_shape}")

# %% [markdown]
# ## One phantom subject, drawn with nilearn
# An AD subject as stored on disk (int16 scanner units) with its true atrophy map, the tissue the disease
# removed from each voxel (as a fraction of the voxel; what ageing took is not in it), saved beside the
# image and drawn above a tenth of its own peak. The anatomy comes from nilearn's MNI152 templates, with
# subject variability, age and, for AD, graded atrophy.

# %%
folder = phantom_folder(mri)
rows = list(csv.DictReader((folder / "participants.tsv").open(), delimiter="\t"))
subject = next(row for row in rows if row["diagnosis"] == "AD")
anat = folder / subject["participant_id"] / "anat"
truth = nib.load(anat / f"{subject['participant_id']}{ATROPHY_SUFFIX}")
plotting.plot_stat_map(
    truth,
    bg_img=str(anat / f"{subject['participant_id']}_T1w.nii.gz"),
    threshold=0.1 * float(truth.get_fdata().max()),
    cmap="hot",
    title=f"{subject['participant_id']} (AD, severity {subject['severity']}): true atrophy",
)
plt.show()

# %% [markdown]
# ## What it draws after training
# Validation slices above their reconstructions; prior samples, row 1 CN and row 2 AD with the same noise
# down each column; analogies: each input (column 1) decoded as CN and as AD from its own code. Below, the
# training curves, one panel per loss term.

# %%
display(epoch_grids(run.path, ["recons", "fakes", "analogies"]))
display(Image(str(run.path / "curves.png")))

# %% [markdown]
# ## The test subjects, with their true atrophy maps
# `held_out_subjects` reads the preprocessed volumes (cached) of the training's test subjects and, beside
# each, its true atrophy map, transformed identically.

# %%
test = held_out_subjects(run.config.data)
print(f"{len(test.subjects)} test subjects:", dict(zip(test.class_names, test.labels.bincount().tolist())))

# %% [markdown]
# ## One CN subject, decoded as CN and as AD
# The middle slice of a CN subject, encoded with the CN label and decoded with either label. The code holds
# the anatomy, so the difference is the model's idea of what AD does to *this* brain (red: darker as AD,
# i.e. tissue lost).

# %%
slices, _ = to_slices(test.volumes[test.labels == 0][:1], mri.slice_axis, mri.slice_range, mri.slice_step)
x = slices[len(slices) // 2 :][:1]  # (1, 1, H, W)
as_cn, as_ad = (counterfactual(model, x, source=0, target=label, residual=False) for label in (0, 1))
effect = disease_effect(model, x, source=0, target=1)  # decode(z, AD) - decode(z, CN)
panels = [
    (x[0, 0], "CN subject", "gray"),
    (as_cn[0, 0], "decoded as CN", "gray"),
    (as_ad[0, 0], "decoded as AD", "gray"),
    (-effect[0, 0], "CN - AD decoding", "RdBu_r"),
]
display(image_row(panels))

# %% [markdown]
# ## Group map: what AD does, by the model and by the raw data
# Each test CN subject encoded with CN and decoded as CN and as AD (8 posterior draws), averaged: the
# model's disease-effect map, against the mean true atrophy of the test AD subjects and the raw group
# difference of the same subjects. r: Pearson correlation inside the brain; nilearn draws the maps at the
# slices' own positions.

# %%
summary = summarize_effects(model, test, mri, samples=8)
print(summary.describe())
display(Image(str(plot_effect_maps(summary, mri, run.path / "effects.png", title=run.config.name))))

# %% [markdown]
# ## Individual maps: each AD subject without AD
# Encode with AD, decode as CN and as AD, subtract (a residual counterfactual: the reconstruction error
# cancels), and correlate with the subject's own true atrophy. `individual_disease_maps.py` goes further.

# %%
maps = individual_maps(model, test, mri, samples=8)
print(maps.describe())

# %% [markdown]
# ## Does the code carry the diagnosis?
# A logistic regression on the latent means, fitted on the training subjects, scored on the test subjects
# (never one subject on both sides), per image and per subject (mean over its images). Every image is
# encoded with the CN label, so the label cannot leak. A conditional VAE gets the diagnosis from its label,
# so its code need not carry it: an AUC near 0.5 means the label, not the code, explains the disease.

# %%
print(latent_auc(model, splits.train, splits.test))

# %% [markdown]
# ## Samples as NIfTI
# `vaegan sample RUN --out samples.nii.gz` writes samples as one 4-D NIfTI (their labels in a JSON
# sidecar), for any viewer.

# %%
samples = os.path.relpath(run.path / "samples.nii.gz")  # relative to the notebook's folder
assert main(["sample", str(run.path), "--n", "8", "--out", samples]) == 0
sidecar = json.loads((run.path / "samples.json").read_text())
print("shape", nib.load(samples).shape, "labels", sidecar["class_names"])
