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
# # A conditional VAE on T1w volumes: CN vs AD
#
# `ad_cvae_3d` sees whole volumes (three orthogonal slices in the grids) with the diagnosis as its label.
# The code holds the subject's anatomy, the label the disease: decoding one code with either label shows what
# the model thinks AD does to that brain, which phantoms, whose atrophy is known, can check.
# `ad_cvae_2d.ipynb` walks through the same steps on slices, with more figures along the way.
#
# `VAEGAN_QUICK=1` (what CI runs): 12 phantom subjects at 32^3, small networks, 1 epoch, seconds; what it
# shows is noise. Without it: the config as shipped, on 200 phantom subjects, trained once into
# `outputs/ad_cvae_3d/` beside this notebook and reused after; `benchmarks/ad_effects.md` has what that run gives.

# %%
# %matplotlib inline
import torch
from IPython.display import Image, display

from vaegan.exercises.ad_runs import ad_run, held_out_subjects
from vaegan.networks.warp import WarpedDecoder
from vaegan.visualization.brain import HIPPOCAMPUS_MNI, plot_effect_maps
from vaegan.visualization.disease_codes import latent_auc
from vaegan.visualization.disease_maps import summarize_effects
from vaegan.visualization.figures import epoch_grids, image_row
from vaegan.visualization.grids import orthogonal_slices
from vaegan.visualization.subject_maps import individual_maps

# %% [markdown]
# ## Train (or reuse the trained run)
# `ad_run` loads the shipped config by name (made tiny in QUICK mode), trains it unless a finished run is
# there, and opens it. The phantoms are generated into the cache on first use. Subjects are split into
# train, validation and test.

# %%
run = ad_run("ad_cvae_3d")
model, mri, splits = run.model, run.config.data.mri, run.load_data()
print(model.name, "on", len(splits.train), "training volumes of shape", splits.image_shape)

# %% [markdown]
# ## What it draws after training
# Reconstructions; prior samples (row 1 CN, row 2 AD, the same noise down each column); each input
# decoded as CN and as AD.

# %%
display(epoch_grids(run.path, ["recons", "fakes", "analogies"]))

# %% [markdown]
# ## The class offsets
# The shipped config adds a learned image per class to the decoder's output (`model.class_offsets`; in the
# decoder's logit units). Their difference, CN minus AD, is the part of the disease effect the model learns
# voxel by voxel, as a voxel-wise group model would, finer than its transposed convolutions draw; the
# decoder explains each subject from its code. Positive: AD has less intensity there.

# %%
offsets = model.offsets().detach().cpu()  # (classes, channels, D, H, W); class 0 CN, class 1 AD
difference = orthogonal_slices((offsets[0] - offsets[1])[None])[0, 0]  # axial | coronal | sagittal
image_row([(difference, "class offsets, CN - AD (axial | coronal | sagittal)", "RdBu_r")], inches=3)

# %% [markdown]
# ## The test subjects, with their true atrophy maps
# `held_out_subjects` reads the preprocessed volumes (cached) of the training's test subjects and, beside
# each, its true atrophy map, transformed identically.

# %%
test = held_out_subjects(run.config.data)
print(f"{len(test.subjects)} test subjects:", dict(zip(test.class_names, test.labels.bincount().tolist())))

# %% [markdown]
# ## The warp: the pattern moved onto each subject
# The offsets hold the disease on one grid, the average anatomy's. The shipped config also moves the
# decoder's output, offsets included, by a smooth deformation read from each subject's code
# (`model.warp_points` control points per axis, `vaegan.networks.warp`), so decoding one code as CN and as AD
# differs where this subject's ventricles, cortex and hippocampi lie. How far it moves each test subject
# (root mean square over the volume, in voxels), and the first subject's displacement:

# %%
if isinstance(model.decoder, WarpedDecoder):
    with torch.no_grad():
        codes = model.encode(test.volumes, test.labels)
        moved = model.decoder.displacement(codes) * (test.volumes.shape[-1] / 2)  # (N, D, H, W, 3), grid -> voxels
    distance = moved.norm(dim=-1)  # (N, D, H, W)
    rms = distance.pow(2).mean((1, 2, 3)).sqrt()
    quartiles = rms.quantile(torch.tensor([0.25, 0.5, 0.75])).numpy().round(2)
    print("rms displacement (voxels), quartiles over the test subjects:", quartiles)
    first = orthogonal_slices(distance[:1, None])[0, 0]
    display(image_row([(first, "displacement (voxels), first test subject", "magma")]))
else:
    print("this config has no warp (model.warp_points unset): the decoder draws every subject on one grid")

# %% [markdown]
# ## Group map: what AD does, by the model and by the raw data
# Each test CN subject encoded with CN and decoded as CN and as AD (8 posterior draws), averaged: the
# model's disease-effect map, against the mean true atrophy of the test AD subjects and the raw group
# difference of the same subjects. r: Pearson correlation inside the brain. Registered phantoms (the
# shipped config) are cut through the left hippocampus (`cut=HIPPOCAMPUS_MNI`, MNI152 mm), since nilearn's
# own choice, the largest cluster of true atrophy, is the ventricles, whose midline sagittal plane crosses
# no hippocampus; unregistered ones (QUICK) have nominal millimetres and keep nilearn's cut.

# %%
summary = summarize_effects(model, test, mri, samples=8)
print(summary.describe())
cut = HIPPOCAMPUS_MNI if summary.grid is not None else None  # unregistered scans: nominal mm, nilearn's cut
display(Image(str(plot_effect_maps(summary, mri, run.path / "effects.png", title=run.config.name, cut=cut))))

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
# (never one subject on both sides). Every volume is encoded with the CN label, so the label cannot leak;
# a conditional VAE gets the diagnosis from its label, so its code need not carry it.

# %%
print(latent_auc(model, splits.train, splits.test))
