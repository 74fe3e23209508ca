"""The shipped implementation as a solution: GAN.train_step, inherited."""

from vaegan.models import GAN, GANConfig


class MyGANConfig(GANConfig):
    name: str = "exercise_gan"


class MyGAN(GAN):
    config_class = MyGANConfig
