# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The evolution of autoencoders: AE, denoising AE, VAE
#
# Three models, one network, the same digits. Each step of the hierarchy adds one idea:
#
# 1. **AutoEncoder**: a deterministic code z = f(x), trained to give x back (`AutoEncoder`).
# 2. **Denoising autoencoder** (Vincent et al. 2008): the *same class* with `noise > 0`; the
#    encoder sees a corrupted x, the loss scores the clean x, so the code must keep what digits
#    have in common and drop the noise.
# 3. **VAE** (Kingma & Welling 2014): a subclass whose code is a *distribution* q(z|x), pulled
#    towards N(0, I) by a KL term, so that z ~ N(0, I) decodes into a digit.
#
# Every model has a 2-D code, so the codes can be drawn side by side.
#
# Set `VAEGAN_QUICK=1` for a seconds-long run (what CI does): one epoch on 500 images.
# The outputs committed with this notebook come from that quick run: one epoch, so the figures
# show a barely trained model, and what the text below says of them holds for the full run
# (`python scripts/build_notebooks.py notebooks/autoencoder_evolution.py --full`, or Run All here without `VAEGAN_QUICK`).

# %%
import matplotlib.pyplot as plt
import torch

from vaegan import VAE, AutoEncoder, AutoEncoderConfig, VAEConfig, fit, load_dataset
from vaegan.exercises import notebook_outputs, quick
from vaegan.visualization import make_grid

QUICK = quick()
OUT = notebook_outputs("autoencoder_evolution")
EPOCHS = 1 if QUICK else 10
NOISE = 0.4  # std of the Gaussian corruption, in pixel units ([0, 1] images)
torch.manual_seed(0)

# %% [markdown]
# ## Three models from one network
# `AutoEncoderConfig` and `VAEConfig` share every field; the denoising AE differs from the
# plain one only in `noise`. The hierarchy shows in the method resolution order.

# %%
network = {"kind": "mlp", "hidden": [512, 256]}
models = {
    "autoencoder": AutoEncoder(AutoEncoderConfig(latent_dim=2, network=network)),
    "denoising AE": AutoEncoder(AutoEncoderConfig(latent_dim=2, network=network, noise=NOISE)),
    "VAE": VAE(VAEConfig(latent_dim=2, network=network)),
}
for name, model in models.items():
    print(f"{name:13s}", " -> ".join(c.__name__ for c in type(model).__mro__[:-3]))

# %%
data = load_dataset("mnist", limit=500 if QUICK else 20000)
for name, model in models.items():
    folder = OUT / name.replace(" ", "_")
    history = fit(model, data, epochs=EPOCHS, out_dir=folder, overwrite=True, progress=False, tensorboard=False)
    print(f"{name:13s} validation reconstruction loss {history[-1]['val/recon']:.1f} nats per image")

# %% [markdown]
# ## Noisy input, clean output
# Row 1: test digits. Row 2: the same digits with Gaussian noise (what each model is given).
# Rows 3-5: what each model reconstructs from the *noisy* digits. The denoising AE was
# trained for exactly this; the plain AE copies some of the noise; the VAE's reconstructions
# are smoother (its decoder has learned to expect codes that wander).

# %%
clean = data.test.images[:10]
noisy = (clean + NOISE * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
rows = [clean, noisy] + [model.reconstruct(noisy) for model in models.values()]
names = ["clean", "noisy input", *models]
fig, axes = plt.subplots(len(rows), 1, figsize=(8, 1.1 * len(rows)))
for ax, row, name in zip(axes, rows, names):
    ax.imshow(make_grid(row, 10), cmap="gray")
    ax.set_ylabel(name, rotation=0, ha="right", va="center")
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The codes, side by side
# 1000 test digits encoded by each model (the VAE's code is its posterior mean), coloured by
# digit. The autoencoders put codes wherever the decoder likes them, on any scale; the VAE's
# KL term gathers them around the origin at the scale of N(0, I), the prior we sample from.

# %%
x, y = data.test.images[:1000], data.test.labels[:1000]
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
for ax, (name, model) in zip(axes, models.items()):
    z = model.encode(x).cpu()  # on a GPU the codes come back on it; matplotlib draws from the CPU
    points = ax.scatter(z[:, 0], z[:, 1], c=y, cmap="tab10", s=6, vmin=-0.5, vmax=9.5)
    ax.set_title(f"{name}: codes of test digits")
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
fig.colorbar(points, ax=axes, ticks=range(10), label="digit")
plt.show()

# %% [markdown]
# ## Decoding noise from the prior
# Only the VAE was trained so that z ~ N(0, I) means something. Drawn from the same noise,
# the autoencoders' decoders land wherever their codes happen not to be.

# %%
z = torch.randn(32, 2, generator=torch.Generator().manual_seed(2))
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for ax, (name, model) in zip(axes, models.items()):
    ax.imshow(make_grid(model.generate(z), 8), cmap="gray")
    ax.set_title(f"{name}: decoded z ~ N(0, I)")
    ax.axis("off")
plt.show()
