"""What the docs say about the model hierarchy (docs/oop_tour.md, docs/write_your_own_model.md, the README) is
what the classes do."""

from __future__ import annotations

import inspect
import re

import pytest
import torch

from tests.conftest import REPO
from tests.models.tiny_configs import tiny_model
from vaegan.models.base import Batch


@pytest.mark.parametrize("name", ["gan", "acgan", "wgan_gp"])
def test_losses_of_a_gan_says_it_trains_with_its_own_steps(name):
    """GAN inherits the default losses(), whose error said 'GAN must define losses(), or both train_step() and
    eval_step()', though GAN defines both."""
    model = tiny_model(name)
    batch = Batch(torch.rand(4, 1, 16, 16), torch.zeros(4, dtype=torch.long))
    cls = type(model).__name__
    with pytest.raises(NotImplementedError) as raised:
        model.losses(batch)
    message = str(raised.value)
    assert message.startswith(f"{cls} trains with its own train_step() and eval_step(), which do not go through ")
    assert "must define" not in message
    tour = " ".join((REPO / "docs" / "oop_tour.md").read_text().split())
    assert "`GAN` has no `losses`" not in tour


def own_methods(cls: type) -> set[str]:
    return {name for name, value in vars(cls).items() if inspect.isfunction(value) and not name.startswith("__")}


def test_the_readme_names_every_method_beta_tcvae_overrides():
    """The README said beta-TCVAE 'overrides two VAE hooks'; it overrides five."""
    from vaegan.models import BetaTCVAE

    readme = " ".join((REPO / "README.md").read_text().split())
    sentence = readme[readme.index("beta-TCVAE overrides") :].split(". ")[0]
    missing = sorted(name for name in own_methods(BetaTCVAE) if f"`{name}`" not in sentence)
    assert not missing, f"README.md: {sentence!r} does not name {missing}"


def test_the_conditional_vae_example_keeps_the_invariance_term():
    """A ConditionalVAE subclass whose latent() did not call super() lost the MMD of model.invariance_weight,
    silently: write_your_own_model.md shows the subclass that keeps it, and it does."""
    from vaegan.models import ConditionalVAE
    from vaegan.models.cvae import ConditionalVAEConfig

    doc = (REPO / "docs" / "write_your_own_model.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", doc, re.DOTALL) if "(ConditionalVAE)" in b]
    assert blocks, "docs/write_your_own_model.md shows no subclass of ConditionalVAE"
    assert "invariance_weight" in doc and "super().latent(" in blocks[0]
    namespace: dict = {}
    exec(compile(blocks[0], "write_your_own_model.md", "exec"), namespace)
    (cls,) = [
        v
        for v in namespace.values()
        if isinstance(v, type) and v is not ConditionalVAE and issubclass(v, ConditionalVAE)
    ]
    config = ConditionalVAEConfig(
        latent_dim=2,
        image_shape=(1, 16, 16),
        num_classes=3,
        invariance_weight=5.0,
        network={"kind": "mlp", "hidden": [16]},
    )
    torch.manual_seed(0)
    terms = cls(config).losses(Batch(torch.rand(8, 1, 16, 16), torch.arange(8) % 3))
    added = set(terms) - {"kl", "loss", "mmd", "objective", "recon"}
    assert "mmd" in terms and added, f"{cls.__name__} returns {sorted(terms)}: the MMD and its own term, wanted"


def test_section_1_says_how_to_install_a_model_for_the_cli():
    """check-model takes a file, but sample/evaluate on a run find the model only through the 'vaegan.models'
    entry point of an installed package: section 1 shows the shortest such package and its install."""
    import tomllib

    doc = (REPO / "docs" / "write_your_own_model.md").read_text()
    section = doc.split("\n## 1.", 1)[1].split("\n## 2.", 1)[0]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.DOTALL)
    assert blocks and "pip install -e ." in section, "section 1 shows no pyproject.toml and `pip install -e .`"
    pyproject = tomllib.loads(blocks[0])
    modules = pyproject["tool"]["setuptools"]["py-modules"]
    entry = pyproject["project"]["entry-points"]["vaegan.models"]
    assert entry == {"free_bits_vae": "my_models"} and modules == ["my_models"], pyproject
    assert {"name", "version"} <= set(pyproject["project"]) and "build-backend" in pyproject["build-system"]
    assert "my_models.py:FreeBitsVAE" in section and "unknown model 'free_bits_vae'" in section
