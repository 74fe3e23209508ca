# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Explore the latent space of a VAE
#
# The caller program of `vaegan.visualization`'s latent-space tools. We train a VAE with a
# **2-D latent space** on MNIST (briefly), then look at what its code means:
#
# 1. test images encoded and coloured by digit, on the code's own axes and after t-SNE / UMAP,
# 2. the **manifold**: decoded images on a grid of prior quantiles over the 2-D code (evenly spaced in probability),
# 3. **traversals**: one latent dimension swept from -3 to +3 prior standard deviations,
# 4. **interpolations** between two test images, straight (linear) and along the great circle (spherical),
# 5. everything at once with `latent_figures`, and a self-contained HTML report of the run.
#
# The same figures come from the command line: `vaegan visualize RUN` writes them to `RUN/latent/`,
# `vaegan report RUN` writes `RUN/report.html`.
#
# Set `VAEGAN_QUICK=1` for a seconds-long run (what CI does).
# The outputs committed with this notebook come from that quick run: one epoch, so the figures
# show a barely trained model, and what the text below says of them holds for the full run
# (`python scripts/build_notebooks.py notebooks/latent_space.py --full`, or Run All here without `VAEGAN_QUICK`).

# %%
# %matplotlib inline
import torch
from IPython.display import display

from vaegan import VAE, VAEConfig, fit, load_dataset
from vaegan.exercises import notebook_outputs, quick
from vaegan.visualization import (
    embed,
    latent_figures,
    lerp,
    plot_embedding,
    plot_manifold,
    plot_traversal,
    slerp,
    write_report,
)
from vaegan.visualization.codes import decode, encode_dataset, rank_dimensions, sweep_scale
from vaegan.visualization.interpolation import plot_interpolation
from vaegan.visualization.scatter import LONG_NAMES
from vaegan.visualization.traversal import gaussian_axis, manifold_codes, traversal_images

QUICK = quick()
OUT = notebook_outputs("latent_space")
torch.manual_seed(0)

# %% [markdown]
# ## Data and a 2-D VAE
# MNIST from `$VAEGAN_DATA_DIR` (or the cache, or Debian's `/usr/share/datasets`). A small MLP VAE
# trains in seconds per epoch on a CPU; two latent dimensions are few for MNIST, so the
# reconstructions are blurry, but the whole code fits on one plot.

# %%
data = load_dataset("mnist", limit=500 if QUICK else None)
model = VAE(VAEConfig(latent_dim=2, network={"kind": "mlp", "hidden": [512, 256]}))
options = {"batch_size": 128, "progress": False, "tensorboard": False, "device": "cpu"}
history = fit(model, data, out_dir=OUT, overwrite=True, epochs=1 if QUICK else 15, **options)
print(f"{len(history)} epochs; validation loss {history[-1]['val/loss']:.1f} nats per image (grey levels: not an ELBO)")

# %% [markdown]
# ## Test images in the latent space
# `encode_dataset` encodes a seeded subsample with the posterior means and records each
# dimension's KL to the prior. On the code's own axes, the digits form overlapping clusters
# around the origin, as the N(0, I) prior asks.

# %%
codes = encode_dataset(model, data.test, n=300 if QUICK else 5000)
kl = ", ".join(f"z{i}: {v:.2f}" for i, v in enumerate(codes.kl.mean(0).tolist()))
print(f"{len(codes.codes)} codes; mean KL per dimension in nats: {kl}")
points, axes = embed(codes.codes, "latent")
plot_embedding(points, codes.labels, axes, class_names=data.class_names, title="Test encodings on the 2-D code")

# %% [markdown]
# t-SNE and UMAP keep neighbourhoods rather than distances: they show which digits the code
# keeps apart, not where they sit. (With a wider code they are the only way to see it at all.)
# UMAP compiles itself on first use (about half a minute), so the quick run skips it.

# %%
for method in ("tsne",) if QUICK else ("tsne", "umap"):
    points, axes = embed(codes.codes, method, seed=0)
    display(plot_embedding(points, codes.labels, axes, class_names=data.class_names, title=f"Test encodings, {LONG_NAMES[method]}"))

# %% [markdown]
# ## The manifold
# Decode a 15 x 15 grid of codes placed at evenly spaced quantiles of N(0, 1) on each axis
# (Kingma & Welling 2014, figure 4): the whole learned family of digits on one page.

# %%
axis = gaussian_axis(15)
grid = manifold_codes((axis, axis))
plot_manifold(decode(model, grid), (axis, axis), title="2-D VAE: decoded grid over the latent space")

# %% [markdown]
# ## Traversals
# Start from one test image's code and move one dimension at a time, from -3 to +3 prior
# standard deviations; rows are ranked by how many nats of KL the dimension carries.

# %%
dims, names = rank_dimensions(model, codes, k=2)
scale, unit = sweep_scale(model, codes)
offsets = torch.linspace(-3, 3, 9)
images = traversal_images(model, codes.codes[0], dims, offsets, scale)
plot_traversal(images, offsets, names, unit=unit, title=f"Traversal around a test {data.class_names[codes.labels[0]]}")

# %% [markdown]
# ## Interpolation between two test images
# Linear interpolation is the straight line between the codes; spherical interpolation
# (slerp; White 2016) follows the great circle, which in many dimensions stays where the
# prior has its mass. In two dimensions the two paths are close.

# %%
a = 0
b = int((codes.labels != codes.labels[a]).nonzero()[0])  # the first image of another digit
t = torch.linspace(0, 1, 9)
za, zb = codes.codes[a], codes.codes[b]
rows = [decode(model, lerp(za, zb, t)), decode(model, slerp(za, zb, t))]
plot_interpolation(rows, ["linear", "spherical"], t, endpoints=(codes.images[a], codes.images[b]),
                   title="Interpolation between two test images")

# %% [markdown]
# ## Everything at once, and the run's report
# `latent_figures` draws every figure the model supports (it checks `has_encoder`,
# `conditional`, the latent size, a `posterior`), so the same call serves an autoencoder, a
# GAN (in its noise space) or a conditional VAE (with class interpolation). `write_report`
# gathers metrics, curves, per-epoch grids and these figures into one HTML file (and the run's
# config: `vaegan.fit` records it, data split included, so `vaegan visualize` and `vaegan report` read
# the run as it was trained).

# %%
methods = ("pca", "tsne") if QUICK else ("pca", "tsne", "umap")
paths = latent_figures(model, data.test, OUT / "latent", methods=methods, n_points=300 if QUICK else 2000)
for name, path in paths.items():
    print(f"{name:<16} {path}")
report = write_report(OUT)
print("open", report)
