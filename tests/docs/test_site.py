"""The documentation site: generated pages cover the code, the site builds strictly, and its main
pages load in headless Chromium with every link resolving and every image decoding.

The browser test needs Debian's ``chromium``; it is skipped only when chromium is missing
and VAEGAN_REQUIRE_CHROMIUM is not set (CI sets it, so there it fails instead).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.conftest import REPO
from vaegan.config import RunConfig
from vaegan.models import get_model_class, list_models

_spec = importlib.util.spec_from_file_location("docs_pages", REPO / "scripts" / "docs_pages.py")
docs_pages = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs_pages)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
MAIN_PAGES = [
    "index.html",
    "getting_started/index.html",
    "cli/index.html",
    "configuration/index.html",
    "oop_tour/index.html",
    "write_your_own_model/index.html",
    "exercises/index.html",
    "api/index.html",
    "notebooks/train_vae_mnist/index.html",
    "notebooks/autoencoder_evolution/index.html",
    "notebooks/AD/ad_cvae_2d/index.html",
]
# after load: every image's state and every link's resolved URL, as JSON in the DOM
PROBE = """<script>
window.addEventListener("load", function () {
  var result = {
    images: Array.from(document.images).map(function (i) { return [i.src.slice(0, 80), i.complete, i.naturalWidth]; }),
    links: Array.from(document.querySelectorAll("a[href]")).map(function (a) { return a.href; })
  };
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""


def leaf_keys(cls, prefix=""):
    for name, field in cls.model_fields.items():
        sub = docs_pages._section_type(field.annotation)
        if sub is not None and name not in ("model", "tune"):
            yield from leaf_keys(sub, f"{prefix}{name}.")
        elif name not in ("model", "tune"):
            yield f"{prefix}{name}"


def test_config_reference_names_every_key_of_every_model():
    page = docs_pages.configuration_page()
    for key in leaf_keys(RunConfig):
        assert f"| `{key}` |" in page, key
    for name in list_models():
        config = get_model_class(name).config_class
        assert f"`model.name: {name}`" in page
        for key in leaf_keys(config, "model."):
            assert f"| `{key}` |" in page, (name, key)


def test_class_diagram_is_drawn_from_the_registry():
    diagram = docs_pages.class_diagram()
    for name in list_models():
        cls = get_model_class(name)
        assert f"class {cls.__name__}" in diagram or f"<|-- {cls.__name__}" in diagram
        for base in cls.__bases__:
            assert f"{base.__name__} <|-- {cls.__name__}" in diagram
    assert "LabelConditioned <|-- ConditionalVAE" in diagram


def test_cli_page_documents_every_command():
    page = docs_pages.cli_page()
    for command in ("train", "encode", "reconstruct", "exercises init", "exercises check", "check-model"):
        assert f"## `vaegan {command}`" in page or f"### `vaegan {command}`" in page, command


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]), "NO_MKDOCS_2_WARNING": "1"}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(f"mkdocs build --strict: {time.perf_counter() - start:.1f} s")
    return out


def test_site_builds_strictly_with_the_generated_pages(site):
    for page in MAIN_PAGES:
        assert (site / page).is_file(), page
    configuration = (site / "configuration" / "index.html").read_text()
    assert "model.latent_dim" in configuration and "data.mri.slice_axis" in configuration
    tour = (site / "oop_tour" / "index.html").read_text()
    assert 'class="mermaid"' in tour and "class_diagram.png" in tour
    assert (site / "assets" / "class_diagram.png").read_bytes().startswith(b"\x89PNG")
    notebook = (site / "notebooks" / "train_vae_mnist" / "index.html").read_text()
    assert notebook.count("data:image/png;base64") >= 2  # the committed figures, not re-executed


def _target_exists(site: Path, url: str) -> bool:
    path = Path(unquote(urlparse(url).path))
    if path.is_dir():
        path = path / "index.html"
    return path.is_file() and site.resolve() in path.resolve().parents


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("VAEGAN_REQUIRE_CHROMIUM"),
    reason="needs chromium (apt-get install chromium); CI sets VAEGAN_REQUIRE_CHROMIUM=1",
)
@pytest.mark.parametrize("page", MAIN_PAGES)
def test_page_in_chromium_has_no_broken_link_or_image(site, page, tmp_path):
    assert CHROMIUM, "VAEGAN_REQUIRE_CHROMIUM is set but chromium is not installed"
    source = site / page
    if PROBE not in source.read_text():  # the site is a temporary copy: probe the page itself
        source.write_text(source.read_text().replace("</body>", PROBE + "</body>"))
    result = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            source.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"{page}: the page did not finish loading\n{result.stderr[-2000:]}"
    state = json.loads(
        found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    )
    broken_images = [src for src, complete, width in state["images"] if not (complete and width > 0)]
    assert not broken_images, f"{page}: images that do not load: {broken_images}"
    if page.startswith("notebooks/"):
        assert state["images"], f"{page}: the notebook's figures are missing"
    local = [url for url in state["links"] if url.startswith("file://")]
    broken = [url for url in local if not _target_exists(site, url.split("#")[0])]
    assert not broken, f"{page}: broken links: {broken}"
    assert local, f"{page}: no links at all (navigation missing?)"
