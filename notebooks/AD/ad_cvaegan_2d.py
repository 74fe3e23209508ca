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
# scored like the conditional VAE's (`ad_cvae_2d.ipynb`).
#
# `VAEGAN_QUICK=1` (what CI runs): 12 phantom subjects at 32^3, small networks, 1 epoch, seconds; what it
# shows is noise. Without it: the config as shipped, on 200 phantom subjects, trained once into
# `outputs/ad_cvaegan_2d/` beside this notebook and reused after; `benchmarks/ad_effects.md` has what that
# run gives.

# %%
# %matplotlib inline
from IPython.display import Image, display

from vaegan.exercises.ad_runs import ad_run, held_out_subjects
from vaegan.visualization.brain import plot_effect_maps
from vaegan.visualization.disease_maps import summarize_effects
from vaegan.visualization.figures import epoch_grids
from vaegan.visualization.subject_maps import individual_maps

# %% [markdown]
# ## Train (or reuse the trained run)
# `ad_run` loads the shipped config by name (made tiny in QUICK mode: the discriminator and the classifier
# shrink too), trains it unless a finished run is there, and opens it. The phantoms are generated into the
# cache on first use. Subjects, not slices, are split into train, validation and test.

# %%
run = ad_run("ad_cvaegan_2d")
model, mri, splits = run.model, run.config.data.mri, run.load_data()
print(model.name, "on", len(splits.train), "training images of shape", splits.image_shape)

# %% [markdown]
# ## What it draws after training
# Reconstructions; samples, row 1 CN, row 2 AD.

# %%
display(epoch_grids(run.path, ["recons", "fakes"]))

# %% [markdown]
# ## The test subjects, with their true atrophy maps

# %%
test = held_out_subjects(run.config.data)
print(f"{len(test.subjects)} test subjects:", dict(zip(test.class_names, test.labels.bincount().tolist())))

# %% [markdown]
# ## Group map: what AD does, by the model and by the raw data
# Each test CN subject encoded with CN and decoded as CN and as AD (8 posterior draws), averaged, against
# the mean true atrophy of the test AD subjects and the raw group difference. r: Pearson correlation inside
# the brain.

# %%
summary = summarize_effects(model, test, mri, samples=8)
print(summary.describe())
display(Image(str(plot_effect_maps(summary, mri, run.path / "effects.png", title=run.config.name))))

# %% [markdown]
# ## Individual maps: each AD subject without AD
# Encode with AD, decode as CN and as AD, subtract (a residual counterfactual), and correlate with the
# subject's own true atrophy. `individual_disease_maps.py` goes further.

# %%
maps = individual_maps(model, test, mri, samples=8)
print(maps.describe())
