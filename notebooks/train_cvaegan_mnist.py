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
# # Train a CVAE-GAN on MNIST
#
# Bao et al. 2017, *CVAE-GAN: Fine-Grained Image Generation through Asymmetric Training*. A CVAE-GAN **is a** conditional VAE (encoder E, generator G) that also **owns** a discriminator D and a classifier C. D and C learn with cross-entropy; G learns by matching their *features* (the asymmetric training), which sharpens the cVAE's blurry samples.
#
# Set `VAEGAN_QUICK=1` for a seconds-long run (what CI does).

# %%
# %matplotlib inline
import torch

from vaegan import CVAEGAN
from vaegan.config import load_config
from vaegan.evaluation.sharpness import sharpness
from vaegan.exercises import notebook_dir, notebook_outputs, quick
from vaegan.experiment import train_from_config
from vaegan.runs import load_run
from vaegan.visualization import epoch_grids, image_grid, panel_curves

torch.manual_seed(0)
QUICK = quick()
OUT = notebook_outputs("train_cvaegan_mnist")
# quick: 500 images, one epoch (seconds, and the grids still noisy); else configs/mnist_cvaegan.yaml as written
overrides = ["data.limit=500", "data.val_size=100", "train.epochs=1"] if QUICK else []
overrides += [f"out={OUT}", "train.progress=false"]

# %% [markdown]
# ## The hierarchy: one subclass per idea

# %%
print(" -> ".join(c.__name__ for c in CVAEGAN.__mro__[:-3]))

# %% [markdown]
# ## The losses (Bao et al. 2017, Algorithm 1)
# With x' = G(E(x, c), c) a reconstruction and x_p = G(z_p, c) a prior sample:
#
# | who | minimises | metrics.csv |
# |---|---|---|
# | C | L_C = -log C(c \| x) on real images | `c_loss` |
# | D | L_D = -[log D(x) + log(1 - D(x')) + log(1 - D(x_p))] | `d_loss` |
# | E, G | 3 L_KL + 1 L_G + 0.001 L_GD + 0.001 L_GC | `loss` |
#
# L_G = -log p(x | x') (`recon`) + 1/2 ||f_D(x) - f_D(x')||^2 (`pair_d`) + 1/2 ||f_C(x) - f_C(x')||^2 (`pair_c`); L_GD (`mean_d`) and L_GC (`mean_c`) match the mean features of prior samples to those of real images, per class for C. f_D and f_C are the last hidden layers of D and C. Three optimizers, one per component:

# %%
config = load_config("mnist_cvaegan", overrides)  # a shipped config, by name
{name: sum(p.numel() for p in CVAEGAN(config.model).component_parameters(name))
 for name in CVAEGAN.objectives}

# %% [markdown]
# ## Train with the ready-made config
# `configs/mnist_cvaegan.yaml`: the paper's weights, a 4-d code, 14 epochs (about 8 minutes on 2 idle CPU
# cores, 33-37 s an epoch, `benchmarks/README.md`; the build of this notebook shared the machine: 59 s).

# %%
history = train_from_config(config, overwrite=True)
history[-1]

# %% [markdown]
# ## The run folder's grids of the last epoch

# %%
epoch_grids(OUT, ["recons", "fakes", "analogies"])

# %% [markdown]
# ## Ask for a digit

# %%
run = load_run(OUT, checkpoint="last")
model, data = run.model, run.load_data()
# sampling per class: z ~ N(0, I), the label chosen by us
labels = torch.arange(10).repeat_interleave(8)  # eight of each digit
samples = model.sample(80, labels, generator=torch.Generator().manual_seed(1))
image_grid(samples, 8, "model.sample(80, labels): one row per class", row_labels=data.class_names)

# %% [markdown]
# ## Analogies on test digits

# %%
# style transfer across classes: encode a test digit with its own label, decode its z with every label
test = data.test
x, y = test.images[:6].to(model.device), test.labels[:6].to(model.device)
table = model.analogies(x, y).view(6, 10, *x.shape[1:])  # (inputs, classes, C, H, W)
grid = torch.cat([x.unsqueeze(1), table], dim=1).flatten(0, 1)
image_grid(grid, 11, "column 0: test digit; columns 1-10: its code decoded as 0, 1, ..., 9")

# %% [markdown]
# ## Sharper than the cVAE?
# The variance of the Laplacian (blur lowers it), beside real test digits and, if you ran `train_cvae_mnist.ipynb` first, the cVAE's samples from the same labels and noise. With the default configs: CVAE-GAN 0.12, cVAE 0.05, real digits 0.18.

# %%
scores = {"CVAE-GAN": sharpness(samples.cpu()), "real test digits": sharpness(data.test.images[:1000])}
cvae_run = notebook_dir() / "outputs" / "train_cvae_mnist"  # written by train_cvae_mnist.ipynb, if it ran
if (cvae_run / "checkpoints").is_dir():
    cvae = load_run(cvae_run, checkpoint="last").model
    scores["cVAE"] = sharpness(cvae.sample(80, labels, generator=torch.Generator().manual_seed(1)))
{name: round(value, 3) for name, value in scores.items()}

# %% [markdown]
# ## Training curves
# The generator never tries to fool D directly, so D may win (D(x_p) near 0) without stalling G.

# %%
panel_curves(history, {
    "E and G terms": {key: key for key in ("recon", "pair_d", "pair_c", "kl")},
    "D and C losses": {"d_loss": "d_loss", "c_loss": "c_loss"},
    "D and C on prior samples": {"d_real": "D(x)", "d_fake": "D(x_p)", "c_acc_fake": "C right on x_p"},
})
