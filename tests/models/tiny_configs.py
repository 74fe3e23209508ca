"""One tiny config per registered model: all the contract suite needs to test a model.

Adding a model = its file, its registration, and one entry here.
"""

import copy

import torch

from vaegan.models import GenerativeModel, build_model, get_model_class

TINY = {
    "ae": {"latent_dim": 4, "network": {"kind": "conv", "channels": [8, 16], "hidden": [32]}},
    "vae": {"latent_dim": 4, "network": {"kind": "conv", "channels": [8, 16], "hidden": [32]}},
    "cvae": {"latent_dim": 4, "network": {"kind": "conv", "channels": [8, 16], "hidden": [32]}},
    "cvaegan": {
        "latent_dim": 4,
        "network": {"kind": "conv", "channels": [8, 16], "hidden": [32]},
        "discriminator": {"kind": "conv", "channels": [8, 16], "hidden": [32], "activation": "leaky_relu"},
        "classifier": {"kind": "conv", "channels": [8, 16], "hidden": [32], "activation": "leaky_relu"},
    },
    "gan": {"latent_dim": 4, "network": {"channels": [8, 16], "hidden": []}, "discriminator": {"channels": [8, 16]}},
    "acgan": {"latent_dim": 4, "network": {"channels": [8, 16], "hidden": []}, "discriminator": {"channels": [8, 16]}},
    "beta_tcvae": {"latent_dim": 4, "network": {"kind": "conv", "channels": [8, 16], "hidden": [32]}},
    "wgan_gp": {
        "latent_dim": 4,
        "network": {"channels": [8, 16], "hidden": []},
        "discriminator": {"channels": [8, 16]},
        "critic_steps": 2,
    },
}


def tiny_model(name: str, shape: tuple[int, ...] = (1, 16, 16), num_classes: int = 3, *, seed: int = 0, **extra):
    """An untrained registered model from its tiny config; ``extra`` overrides config keys."""
    cls = get_model_class(name)
    data = {**copy.deepcopy(TINY[name]), **extra, "name": name, "image_shape": shape, "num_classes": num_classes}
    torch.manual_seed(seed)
    model: GenerativeModel = build_model(cls.config_class.model_validate(data))
    return model
