"""Each package's ``__init__`` docstring maps its files (STYLE.md: the tree is the architecture diagram)."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import REPO

PACKAGES = sorted(path.parent for path in (REPO / "src" / "vaegan").rglob("__init__.py"))


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.relative_to(REPO / "src").as_posix())
def test_the_package_docstring_names_every_module_and_subpackage(package):
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
    modules = [p.name for p in package.glob("*.py") if p.name != "__init__.py"]
    packages = [p.name for p in package.iterdir() if (p / "__init__.py").is_file()]
    unnamed = [name for name in modules if name not in doc and name[:-3] not in doc]
    unnamed += [name + "/" for name in packages if name not in doc]
    assert not unnamed, f"{package.name}/__init__.py does not say what {', '.join(sorted(unnamed))} hold"
