"""A saved reference for the GAN family: weights after a few seeded steps of the tiny GAN and ACGAN.

The adversarial objective became a strategy (so WGAN-GP is a small subclass);
``test_gan.py`` checked that GAN and ACGAN stayed bit-identical to the weights this
module saved before that change (commit 31b2682), and they did. The reference was
regenerated once since, on purpose, when the DCGAN generator gained the paper's
batch norm after its projection (``GeneratorConfig.project_norm``). It now guards
every later refactor of the GAN family. Regenerate only on purpose:

    PYTHONPATH=src:. python -m tests.models.gan_reference
"""

from __future__ import annotations

from pathlib import Path

import torch

from vaegan.models import Batch, build_model, get_model_class

REFERENCE = Path(__file__).with_name("reference") / "gan_family_steps.pt"
TINY_GAN = {"latent_dim": 4, "network": {"channels": [8, 16], "hidden": []}, "discriminator": {"channels": [8, 16]}}
STEPS = 3


def trained_weights(name: str) -> dict[str, torch.Tensor]:
    """Weights of the tiny ``name`` model after STEPS seeded train_steps on fixed random images.

    On one thread: conv backward sums in a thread-dependent order, so bits agree only at equal threads.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(name)
    finally:
        torch.set_num_threads(threads)


def _train(name: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    cls = get_model_class(name)
    data = {**TINY_GAN, "name": name, "image_shape": (1, 16, 16), "num_classes": 3}
    model = build_model(cls.config_class.model_validate(data))
    optimizers = model.configure_optimizers()
    generator = torch.Generator().manual_seed(1)
    model.train()
    for _ in range(STEPS):
        x = torch.rand(8, 1, 16, 16, generator=generator)
        y = torch.randint(3, (8,), generator=generator)
        model.train_step(Batch(x, y), optimizers)
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


if __name__ == "__main__":
    REFERENCE.parent.mkdir(exist_ok=True)
    torch.save({name: trained_weights(name) for name in ("gan", "acgan")}, REFERENCE)
    print(f"wrote {REFERENCE}")
