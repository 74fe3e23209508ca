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
# reason. Two maps without a model frame each score: the subject's own model-free map, the mean CN image
# minus the subject, and the floor, the group difference of the subjects the model learned from (their mean
# CN image minus their mean AD image) handed to every patient, which is what a group study says of each.
# A model's individual maps tell something about the subject only where they score above the floor.
#
# `VAEGAN_QUICK=1` (what CI runs): 12 phantom subjects at 32^3, small networks, 1 epoch, seconds; its maps
# are noise. Without it: the config as shipped (200 subjects), the same run as `ad_cvae_2d.ipynb`, trained
# once into `outputs/ad_cvae_2d/` and reused; `benchmarks/ad_effects.md` has the figures that run gives.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import torch
from IPython.display import Image, display

from vaegan.exercises.ad_runs import ad_run, held_out_subjects
from vaegan.exercises.notebook import quick
from vaegan.visualization.brain import plot_individual_maps
from vaegan.visualization.figures import image_row
from vaegan.visualization.subject_maps import group_difference_maps, individual_maps

# %% [markdown]
# ## A conditional VAE on coronal slices (trained once, reused after), and its test subjects
# `held_out_subjects` reads the training's test subjects with their true atrophy maps.

# %%
run = ad_run("ad_cvae_2d")
model, mri = run.model, run.config.data.mri
test = held_out_subjects(run.config.data)
print(f"{len(test.subjects)} test subjects:", dict(zip(test.class_names, test.labels.bincount().tolist())))

# %% [markdown]
# ## Every test AD subject, scored against its own atrophy
# Residual and plain counterfactuals, the model-free map and the floor, on the same subjects; each
# model map averaged over 8 posterior draws. r is the Pearson correlation inside the brain. On the
# shipped run (`benchmarks/ad_effects.md`) the floor scores a median 0.76, a little above the residual
# maps' 0.75: most of what an individual map gets right is the group pattern, which the training
# subjects' own difference draws a little better than the model does.

# %%
residual = individual_maps(model, test, mri, samples=8)
plain = individual_maps(model, test, mri, samples=8, residual=False)
floor = group_difference_maps(test, held_out_subjects(run.config.data, learned=True), mri)
for name, (low, median, high) in {
    "residual counterfactual": residual.quartiles(),
    "plain counterfactual": plain.quartiles(),
    "model-free (mean CN - subject)": residual.quartiles(baseline=True),
    "floor (training group diff.)": floor.quartiles(),
}.items():
    print(f"{name:32s} median r = {median:.2f}  [IQR {low:.2f} .. {high:.2f}]")

fig, ax = plt.subplots(figsize=(7, 3))
ax.boxplot(
    [residual.r, plain.r, residual.r_baseline, floor.r], tick_labels=["residual", "plain", "model-free", "floor"]
)
ax.set_ylabel("r with own true atrophy")
plt.show()

# %% [markdown]
# ## What is individual in these maps?
# A map that drew the group's pattern into every subject would still score well above: AD subjects
# share much of their atrophy. Subtract the mean map of the AD subjects from each map, and their mean
# atrophy from each true atrophy, and score what is left: only what the map says about this subject
# and not the others. (A QUICK run holds one AD test subject, its own mean: r is nan.)
# A binary label removes the class's *average* disease; `scaled=True` fits how much of it each
# subject shows (the label mix that reconstructs the subject best) and removes that amount instead.
# The encoder only guesses each subject's code, and the warp read from it (`model.warp_points`) only
# guesses where the subject's anatomy lies. `refine=100` fits both to the subject's own image (100 Adam
# steps from the guess; `ConditionalVAE.map_code_and_warp`), a registration of the model's template onto
# the subject, then decodes as CN and as AD. On the shipped run the median r rises from 0.75 to 0.79,
# above the floor's 0.76, and the part beyond the group from 0.34 to 0.56 (`benchmarks/ad_effects.md`).

# %%
scaled = individual_maps(model, test, mri, samples=8, scaled=True)
refined = individual_maps(model, test, mri, refine=5 if quick() else 100)
print("each subject's amount of AD (1 = the class's average):", [round(a, 2) for a in scaled.amounts.tolist()])
print(f"code and warp fitted to each subject ({refined.refine} steps): median r = {refined.quartiles()[1]:.2f}")
for name, (low, median, high) in {
    "residual counterfactual": residual.quartiles(specific=True),
    "residual, scaled to the subject": scaled.quartiles(specific=True),
    "residual, code and warp fitted": refined.quartiles(specific=True),
    "model-free (mean CN - subject)": residual.quartiles(baseline=True, specific=True),
}.items():
    print(f"{name:32s} beyond the group: median r = {median:.2f}  [IQR {low:.2f} .. {high:.2f}]")

# %% [markdown]
# ## Three subjects: their map over their own true atrophy

# %%
display(Image(str(plot_individual_maps(residual, mri, run.path / "individual.png", title=run.config.name))))

# %% [markdown]
# ## One slice up close: the subject, as CN, and what AD took
# The best-scored subject, at the slice where its true atrophy is largest.

# %%
i = int(torch.argmax(residual.r))
position = residual.truth[i].flatten(1).sum(1).argmax()
subject = residual.subjects[i]
panels = [
    (residual.images[i, position, 0], f"{subject}: AD subject", "gray"),
    ((residual.images + residual.loss)[i, position, 0], "as CN (residual)", "gray"),
    (residual.loss[i, position, 0], "model: tissue loss", "hot"),
    (residual.truth[i, position, 0], "true tissue loss", "hot"),
]
display(image_row(panels))

# %% [markdown]
# ## From the command line, for your own scans too
# `vaegan effects outputs/ad_cvae_2d` writes these maps for every test subject as NIfTI files on the
# MNI152 grid (each AD scan's map and its counterfactual image, the group maps), with the figures and an
# `effects.json` of the figures above; on scans without a true atrophy the maps are drawn, unscored.
# `--scaled` removes each subject's own amount of AD, as `scaled` does here, and `--refine 100` decodes
# each subject's fitted code and warp, as `refine` does (docs/real_mri.md).
