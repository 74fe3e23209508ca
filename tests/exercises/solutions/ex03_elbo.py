"""The shipped implementation as a solution: the VAE's losses, inherited."""

from vaegan.models import VAE, VAEConfig


class ELBOVAEConfig(VAEConfig):
    name: str = "exercise_elbo_vae"


class ELBOVAE(VAE):
    config_class = ELBOVAEConfig
