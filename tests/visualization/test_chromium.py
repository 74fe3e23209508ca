"""The report as a browser shows it: headless Chromium loads it, every image decodes, the slider works.

Needs Debian's ``chromium`` (``apt-get install chromium``); CI installs it and sets
VAEGAN_REQUIRE_CHROMIUM=1 so that this test fails there rather than skips.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from vaegan.visualization.report import SECTIONS

# Run offline and quietly: no sandbox (containers), no GPU, no network services, a throwaway profile.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]

# Appended to a copy of the report: after load, record what the browser made of each image and
# section, move the first slider to its first epoch, and write it all as JSON into the DOM.
PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.from(document.images);
  var range = document.querySelector(".slider input");
  var box = range.closest(".slider");
  range.value = "0";
  range.dispatchEvent(new Event("input"));
  var frames = Array.from(box.querySelectorAll("img"));
  var result = {
    widths: images.map(function (img) { return img.naturalWidth; }),
    sections: Array.from(document.querySelectorAll("section")).map(function (s) {
      return [s.id, s.getBoundingClientRect().height];
    }),
    slider: {shown: box.querySelector("output").textContent, visible: frames.map(function (f) { return !f.hidden; })}
  };
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("VAEGAN_REQUIRE_CHROMIUM"):
            pytest.fail("VAEGAN_REQUIRE_CHROMIUM is set but no chromium is installed (apt-get install chromium)")
        pytest.skip("no chromium on PATH; apt-get install chromium")
    return path


def browse(chromium: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    command = [chromium, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def test_chromium_renders_every_section_image_and_the_slider(cli_run, chromium, tmp_path):
    page = (cli_run / "report.html").read_text()
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "\n</body>"))
    dom = browse(chromium, tmp_path, "--dump-dom", probed.as_uri()).stdout
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert match, "the page's load handler never ran: " + dom[-500:]
    result = json.loads(html.unescape(match.group(1)))
    assert len(result["widths"]) == page.count("<img ") and all(w > 0 for w in result["widths"]), result["widths"]
    assert [name for name, _ in result["sections"]] == list(SECTIONS)
    assert all(height > 50 for _, height in result["sections"]), result["sections"]
    assert result["slider"] == {"shown": "1", "visible": [True, False]}  # moved to the first epoch


def test_chromium_screenshot_is_not_blank(cli_run, chromium, tmp_path):
    shot = tmp_path / "report.png"
    browse(chromium, tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", (cli_run / "report.html").as_uri())
    image = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert image.shape == (2400, 1280)
    assert image.std() > 20, float(image.std())
    header, body = image[:60], image[200:]
    assert header.mean() < 120  # the dark title bar drew
    assert (np.abs(np.diff(body, axis=1)) > 30).mean() > 0.01  # text, tables and figures: many edges
    shutil.copy(shot, cli_run / "report_screenshot.png")  # for a person to look at
