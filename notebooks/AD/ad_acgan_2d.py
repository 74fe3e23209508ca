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
# `VAEGAN_QUICK=1` (what CI runs): 12 phantom subjects at 32^3, small networks, 1 epoch, seconds; what it
# shows is noise. Without it: the config as shipped, on 200 phantom subjects, trained once into
# `outputs/ad_acgan_2d/` beside this notebook and reused after; `benchmarks/ad_effects.md` has what that run
# gives.

# %%
# %matplotlib inline
import torch
from IPython.display import display

from vaegan.data.volumes import to_slices
from vaegan.exercises.ad_runs import ad_run, held_out_subjects
from vaegan.visualization.disease_effects import pearson
from vaegan.visualization.figures import epoch_grids, image_row

# %% [markdown]
# ## Train (or reuse the trained run)
# `ad_run` loads the shipped config by name (made tiny in QUICK mode, the discriminator too), trains it
# unless a finished run is there, and opens it. The phantoms are generated into the cache on first use.

# %%
run = ad_run("ad_acgan_2d")
model, mri, splits = run.model, run.config.data.mri, run.load_data()
print(model.name, "on", len(splits.train), "training images of shape", splits.image_shape)

# %% [markdown]
# ## What it draws after training
# Samples: row 1 CN, row 2 AD, the same noise down each column.

# %%
display(epoch_grids(run.path, ["fakes"]))

# %% [markdown]
# ## The test subjects, with their true atrophy maps

# %%
test = held_out_subjects(run.config.data)
print(f"{len(test.subjects)} test subjects:", dict(zip(test.class_names, test.labels.bincount().tolist())))

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
display(
    image_row([(as_cn[0, 0], "one draw as CN", "gray"), (loss, "mean CN - AD", "hot"), (truth, "true atrophy", "hot")])
)
