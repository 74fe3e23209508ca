"""The ``fit()`` examples (the package's and experiment.py's docstrings, the README's Python section, the docs
site's home page) train a
Bernoulli decoder only on binary images, so ``vaegan evaluate`` then scores the run's likelihood instead of
refusing it (a Bernoulli density on grey levels is no likelihood)."""

from __future__ import annotations

import ast
import doctest
import re

import pytest

import vaegan
import vaegan.experiment
from tests.conftest import REPO
from vaegan.models import VAEConfig


def readme_python() -> str:
    text = (REPO / "README.md").read_text()
    match = re.search(r"## Python\n+```python\n(.*?)```", text, re.DOTALL)
    assert match, "README.md has no ```python block under '## Python'"
    return match.group(1)


def site_home_python() -> str:
    match = re.search(r"```python\n(.*?)```", (REPO / "docs" / "index.md").read_text(), re.DOTALL)
    assert match, "docs/index.md has no ```python block"
    return match.group(1)


def docstring_example(module) -> str:
    examples = doctest.DocTestParser().get_examples(module.__doc__ or "")
    assert examples, f"{module.__name__}'s docstring has no >>> example"
    return "".join(example.source for example in examples)


EXAMPLES = {
    "vaegan": lambda: docstring_example(vaegan),
    "vaegan.experiment": lambda: docstring_example(vaegan.experiment),
    "README.md": readme_python,
    "docs/index.md": site_home_python,
}


def keyword(call: ast.Call, name: str, default):
    found = [k.value for k in call.keywords if k.arg == name]
    return ast.literal_eval(found[0]) if found else default


@pytest.mark.parametrize("where", EXAMPLES)
def test_a_bernoulli_vae_is_fitted_on_binarised_images(where):
    calls = [node for node in ast.walk(ast.parse(EXAMPLES[where]())) if isinstance(node, ast.Call)]
    named = {getattr(c.func, "id", None): c for c in calls}
    assert "VAEConfig" in named and "fit" in named, f"{where}: no VAEConfig(...) and fit(...) in the example"
    likelihood = keyword(named["VAEConfig"], "likelihood", VAEConfig.model_fields["likelihood"].default)
    binarize = keyword(named["fit"], "binarize", False)
    assert likelihood != "bernoulli" or binarize is True, (
        f"{where}: fit() trains a Bernoulli VAE on grey levels (no binarize=True), so vaegan evaluate refuses its "
        "likelihood"
    )
