"""report.html in a real browser (headless Chromium): every image loads, nothing is blank.

`make install` installs chromium-headless-shell where it is missing (CI); without any
Chromium binary the test skips and says so.
"""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kbetavae.viz.html_report import REPORT_FILE

from ..grid_sweep import SETTINGS as GRID_SETTINGS
from ..synthetic_sweep import BETAS

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason=f"no headless Chromium on PATH (looked for {', '.join(BROWSERS)}); `make install` "
    "installs chromium-headless-shell",
)
# Run after load: count the images and name any that did not decode (naturalWidth 0).
IMAGE_CHECK = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const marker = document.createElement("div");
  marker.id = "image-check";
  marker.dataset.total = images.length;
  marker.dataset.broken = images
    .filter((image) => !(image.complete && image.naturalWidth > 0))
    .map((image) => image.alt)
    .join("|");
  document.body.appendChild(marker);
});
</script>
"""


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _loaded_dom(report: Path, tmp_path: Path) -> str:
    """The DOM of ``report`` after Chromium loaded it; asserts every image decoded."""
    html = report.read_text()
    page = tmp_path / "checked.html"
    page.write_text(html.replace("</body>", IMAGE_CHECK + "</body>"))
    dom = _chromium(tmp_path, "--virtual-time-budget=20000", "--dump-dom", page.as_uri()).stdout
    marker = re.search(r'<div id="image-check" data-total="(\d+)" data-broken="([^"]*)"', dom)
    assert marker, dom[-2000:]
    assert int(marker.group(1)) == html.count("<img ") > 0
    assert marker.group(2) == "", f"images that did not load: {marker.group(2)}"
    return dom


def test_the_browser_loads_every_image_and_shows_every_beta(synthetic_sweep, tmp_path):
    dom = _loaded_dom(synthetic_sweep / REPORT_FILE, tmp_path)
    for table in ("summary", "kl-table"):
        section = dom[dom.index(f'id="{table}"') :]
        section = section[: section.index("</table>")]
        found = re.findall(r'<tr data-beta="([^"]+)"', section)
        assert [float(b) for b in found] == list(BETAS), table


def test_the_screenshot_is_not_blank(synthetic_sweep, tmp_path):
    shot = tmp_path / "report.png"
    _chromium(
        tmp_path,
        "--window-size=1280,2400",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        (synthetic_sweep / REPORT_FILE).as_uri(),
    )
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2400, 1280)
    # A white page has no variance; text, tables and figures give plenty.
    assert pixels.std() > 20
    assert (pixels < 128).mean() > 0.01


def test_a_grid_of_two_methods_shows_each_setting_and_the_methods_section(grid_sweep, tmp_path):
    dom = _loaded_dom(grid_sweep / REPORT_FILE, tmp_path)
    summary = dom[dom.index('id="summary"') :]
    summary = summary[: summary.index("</table>")]
    assert re.findall(r'data-setting="([^"]+)"', summary) == list(GRID_SETTINGS)
    methods = dom[dom.index('id="methods"') :]
    assert 'data-figure="metrics_vs_weight"' in methods
    assert 'data-figure="udr_vs_metrics"' in methods
    best = methods[methods.index('class="best"') :]
    best = best[: best.index("</table>")]
    assert re.findall(r'<tr data-objective="([^"]+)"', best) == ["beta", "dipvae_i"]
    assert 'id="agreement"' in methods and 'class="picks"' in methods


@pytest.mark.parametrize(
    ("published", "reduced", "scale"),
    [("", "summed over", 10 / 4096), ("loss-mean", "averaged over", 10.0)],
    ids=["sum", "mean"],
)
def test_the_published_reports_show_beta_norm_and_their_loss_sentence(
    published, reduced, scale, tmp_path
):
    # What the browser shows of docs/results and docs/results/loss-mean (β_norm was "—" and
    # the sentence always "summed" when the report read the plan's keys at the top level).
    from kbetavae.study.results import read_plan
    from kbetavae.viz.html_report import _number

    from .test_html_report import PUBLISHED, _published_page, _summary_cells

    sweep = PUBLISHED / published
    page = tmp_path / "published.html"
    page.write_text(_published_page(sweep, tmp_path))
    dom = _chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()).stdout
    shown = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
    assert f"Bernoulli reconstruction {reduced} 4096 pixels" in shown
    cells = _summary_cells(dom)
    betas = read_plan(str(sweep)).betas
    assert sorted(cells) == sorted(betas)
    # β_norm = β·z/pixels summed, β·z averaged (z = 10, 4096 pixels): a number per β
    assert [cells[beta][1] for beta in betas] == [_number(beta * scale, 3) for beta in betas]
