"""report.html: one self-contained page with every table and figure of a sweep."""

import base64
import configparser
import fnmatch
import io
import re
import shutil
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from PIL import Image

from kbetavae.viz.html_report import REPORT_FILE, write_report

from ..synthetic_sweep import BETAS, FAILED, FAILED_REASON, SEEDS

DONE_RUNS = [(b, s) for b in BETAS for s in SEEDS if (b, s) != FAILED]


class Page(HTMLParser):
    """The parts of the page the tests look at: figures, images, rows, references."""

    def __init__(self, html: str):
        super().__init__()
        self.figures: dict[str, str] = {}  # data-figure -> its img src
        self.missing: list[str] = []
        self.rows: dict[str, list[dict]] = {}  # table id -> row attributes
        self.references: list[str] = []  # every src/href value
        self.tags: list[str] = []
        self._figure = self._table = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.references += [attrs[k] for k in ("src", "href") if k in attrs]
        if tag == "figure":
            self._figure = attrs.get("data-figure")
        elif tag == "img" and self._figure:
            self.figures[self._figure] = attrs["src"]
        elif tag == "table":
            self._table = attrs.get("id")
        elif tag == "tr" and self._table and "data-beta" in attrs:
            self.rows.setdefault(self._table, []).append(attrs)
        if "data-missing" in attrs:
            self.missing.append(attrs["data-missing"])


@pytest.fixture(scope="module")
def html(synthetic_sweep) -> str:
    return (synthetic_sweep / REPORT_FILE).read_text()


@pytest.fixture(scope="module")
def page(html) -> Page:
    return Page(html)


def _betas(rows) -> list[float]:
    return [float(r["data-beta"]) for r in rows]


def test_every_beta_has_a_summary_row_and_a_kl_row_and_every_run_a_row(page):
    assert _betas(page.rows["summary"]) == list(BETAS)
    assert _betas(page.rows["kl-table"]) == list(BETAS)
    runs = [(float(r["data-beta"]), int(r["data-seed"])) for r in page.rows["runs"]]
    assert runs == [(b, s) for b in BETAS for s in SEEDS]


def test_every_figure_of_the_sweep_is_embedded(page, synthetic_sweep):
    expected = {
        "metrics_vs_beta",
        "loss_kl",
        "loss_reconstruction",
        "loss_loss",
        "kl_per_latent",
        "reconstructions",
        "traversals_beta=4",
        *(f"matrices_beta={b:g}" for b in BETAS),
        *(f"traversal_gif:beta={b:g}_seed={s}" for b, s in DONE_RUNS),
    }
    assert set(page.figures) == expected and page.missing == []
    on_disk = {p.name for p in (synthetic_sweep / "figures").rglob("*.*")}
    assert len(on_disk) == len(expected)  # nothing rendered is left out of the page


def test_every_image_is_a_data_uri_that_decodes_to_a_valid_png_or_animated_gif(page):
    for key, src in page.figures.items():
        match = re.fullmatch(r"data:image/(png|gif);base64,([A-Za-z0-9+/=]+)", src)
        assert match, key
        image = Image.open(io.BytesIO(base64.b64decode(match.group(2), validate=True)))
        image.verify()
        assert image.format == match.group(1).upper()
        if key.startswith("traversal_gif:"):
            assert Image.open(io.BytesIO(base64.b64decode(match.group(2)))).n_frames > 1


def test_the_page_needs_no_network_and_no_other_file(page, html):
    assert all(ref.startswith(("data:", "#")) for ref in page.references), page.references
    assert "link" not in page.tags and "script" not in page.tags
    assert "@import" not in html and "url(" not in html.replace("data:", "")


def test_one_seed_is_a_value_marked_one_seed_and_two_seeds_an_interval(page, html):
    summary = html[html.index('id="summary"') : html.index('id="runs"')]
    rows = re.split(r'<tr data-beta="', summary)[1:]
    by_beta = {float(r[: r.index('"')]): r for r in rows}
    assert "one seed" in by_beta[10.0] and "95 %" not in by_beta[10.0]
    for beta in (1.0, 4.0, 7.5):
        assert "one seed" not in by_beta[beta]
        assert "95 % [" in by_beta[beta] and "n = 2" in by_beta[beta]
    assert "±" not in html


def test_failed_runs_are_listed_with_their_reason_escaped(page, html):
    (row,) = page.rows["failed-table"]
    assert (float(row["data-beta"]), int(row["data-seed"])) == FAILED
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert FAILED_REASON not in html


def test_settings_and_provenance_are_shown(html, synthetic_sweep):
    import json

    record = json.loads((synthetic_sweep / "sweep.json").read_text())
    assert record["git_revision"] is None or record["git_revision"] in html
    for package, version in record["versions"].items():
        assert f'<th class="text">{package}</th>' in html and str(version) in html
    assert "eval_points" in html and "1.0, 4.0, 7.5, 10.0" in html
    machine = record["machine"]
    assert f"{machine['cpu']}, {machine['cores']} logical cores" in html


def test_the_page_prints_without_cutting_figures(html):
    style = html[html.index("<style>") : html.index("</style>")]
    print_rules = style[style.index("@media print") :]
    assert re.search(r"figure[^{]*\{[^}]*break-inside: avoid", print_rules)


def test_missing_figures_are_named_not_broken(synthetic_sweep, tmp_path):
    copy = tmp_path / "syn"
    shutil.copytree(synthetic_sweep, copy, ignore=shutil.ignore_patterns("figures", REPORT_FILE))
    page = Page(Path(write_report(str(copy))).read_text())
    assert page.figures == {}
    assert {"metrics_vs_beta", "kl_per_latent", "reconstructions", "loss"} <= set(page.missing)


def test_the_template_is_package_data():
    template = resources.files("kbetavae.viz") / "templates" / "report.html.j2"
    assert template.is_file()
    setup = configparser.ConfigParser()
    setup.read(Path(__file__).parents[2] / "setup.cfg")
    patterns = setup["options.package_data"]["kbetavae.viz"].split()
    assert any(fnmatch.fnmatch("templates/report.html.j2", p) for p in patterns)
    assert "jinja2" in setup["options"]["install_requires"]


# -- the published sweeps: plan settings, β_norm and the first screen (issue 23) ------------

PUBLISHED = Path(__file__).parents[2] / "docs" / "results"


def _published_page(sweep: Path, tmp_path: Path) -> str:
    """The report of a published sweep, written into tmp_path (docs/ is left untouched)."""
    from kbetavae.viz.html_report import render_report, report_context

    path = tmp_path / REPORT_FILE
    path.write_text(render_report(report_context(str(sweep))))
    return path.read_text()


def _summary_cells(html: str) -> dict[float, list[str]]:
    summary = html[html.index('id="summary"') : html.index('id="runs"')]
    rows = re.split(r'<tr data-beta="', summary)[1:]
    cells = {}
    for row in rows:
        beta = float(row[: row.index('"')])
        cells[beta] = [re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in row.split("<td>")[1:]]
    return cells


@pytest.mark.parametrize(
    "sweep, reduced, scale",
    [(PUBLISHED, "summed over", 10 / 4096), (PUBLISHED / "loss-mean", "averaged over", 10.0)],
    ids=["sum", "mean"],
)
def test_published_reports_give_beta_norm_per_beta_on_their_reduction(
    sweep, reduced, scale, tmp_path
):
    from kbetavae.study.results import read_plan
    from kbetavae.viz.html_report import _number

    html = _published_page(sweep, tmp_path)
    plan = read_plan(str(sweep))
    cells = _summary_cells(html)
    assert sorted(cells) == sorted(plan.betas)
    for beta, row in cells.items():
        # β_norm = β·z/pixels for a summed reconstruction; the mean divides the
        # reconstruction by the pixels, so there β_norm = β·pixels·z/pixels = β·z.
        assert row[1] == _number(beta * scale, 3), (beta, row)
    assert f"Bernoulli reconstruction {reduced} 4096 pixels" in html
    assert sorted(tmp_path.iterdir()) == [tmp_path / REPORT_FILE]


@pytest.mark.parametrize("sweep", [PUBLISHED, PUBLISHED / "loss-mean"], ids=["sum", "mean"])
def test_published_reports_list_every_training_setting_with_its_value(sweep, tmp_path):
    from kbetavae.study.results import read_plan

    html = _published_page(sweep, tmp_path)
    base = read_plan(str(sweep)).base
    for key, value in (
        ("subset", str(base.subset)),
        ("epochs", str(base.epochs)),
        ("reconstruction", base.reconstruction),
        ("latent_dim", str(base.latent_dim)),
    ):
        assert f'<th class="text">{key}</th><td class="text">{value}</td>' in html, key
    assert '<th class="text">base</th>' not in html


def test_the_first_screen_says_what_the_sweep_found_and_warns_of_untrained_runs(tmp_path):
    html = _published_page(PUBLISHED, tmp_path)
    first_screen = html[: html.index('id="settings"')]
    finding = re.search(r'<p class="finding" id="finding">([^<]*)</p>', first_screen)
    assert finding and finding.group(1).startswith("β = 0.5 uses 5–10 latents (8 seeds)")
    # docs/results: β = 50 seeds 3 and 6 collapsed (0 active latents, 569 and 566 nats).
    warning = re.search(r'<p class="warning" id="untrained">(.*?)</p>', first_screen, re.S)
    assert warning and "(0 active latents: β = 50 seed 3, β = 50 seed 6)" in warning.group(1)
    assert "--betas" in warning.group(1)


def test_a_sweep_whose_runs_all_trained_has_no_warning(page, html):
    assert 'id="finding"' in html and 'id="untrained"' not in html


def test_the_loss_sentence_and_beta_norm_are_the_plans(page, html):
    assert "objective <code>beta</code>): Bernoulli reconstruction summed over 4096 pixels" in html
    assert "β · KL(q(z|x) ‖ N(0, I)) summed over latents" in html
    # β_norm = β · z / pixels with z = 10, from the plan's base config (it was blank).
    summary = html[html.index('id="summary"') : html.index('id="runs"')]
    assert '<tr data-beta="4">\n      <td>4</td>\n      <td>0.00977</td>' in summary


def sweep_copy(synthetic_sweep: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "syn"
    shutil.copytree(synthetic_sweep, copy, ignore=shutil.ignore_patterns("figures"))
    return copy


@pytest.mark.parametrize("objective", ["btcvae", "capacity", "dipvae_i", "factorvae"])
def test_a_non_beta_sweep_states_its_own_regulariser(synthetic_sweep, tmp_path, objective):
    import json

    from kbetavae.model.loss_text import REGULARISERS
    from kbetavae.study.plan import SweepPlan
    from kbetavae.training.rundir import run_name

    copy = sweep_copy(synthetic_sweep, tmp_path)
    record = json.loads((copy / "sweep.json").read_text())
    record["plan"]["betas"] = [1.0]  # an objective without β trains β = 1 only
    before = SweepPlan.from_dict(record["plan"])
    record["plan"]["base"]["objective"] = objective
    after = SweepPlan.from_dict(record["plan"])
    for old, new in zip(before.configs(), after.configs(), strict=True):
        (copy / run_name(old)).rename(copy / run_name(new))
    (copy / "sweep.json").write_text(json.dumps(record))
    html = Path(write_report(str(copy))).read_text()
    expected = REGULARISERS[objective].replace("&", "&amp;")
    assert f"objective <code>{objective}</code>" in html and expected in html
    assert "β · KL(q(z|x) ‖ N(0, I)) summed over latents" not in html


DAMAGED = {
    "results.csv": [
        "",
        "beta,seed\nfour,0\n",
        "beta,seed,status\n1.0,0,done,extra\n",
        "x,y\n1,2\n",
    ],
    "sweep.json": ["", '{"plan": {"name": "syn", "bet', "garbage", "[1, 2]"],
}


@pytest.mark.parametrize(
    "name, text", [(name, text) for name, texts in DAMAGED.items() for text in texts]
)
def test_a_damaged_sweep_file_is_named_and_the_good_report_is_kept(
    synthetic_sweep, tmp_path, name, text
):
    from kbetavae.errors import DamagedFile

    copy = sweep_copy(synthetic_sweep, tmp_path)
    good = (copy / REPORT_FILE).read_bytes()
    (copy / name).write_text(text)
    with pytest.raises(DamagedFile, match=rf"^{re.escape(str(copy / name))} is damaged \(.+\): "):
        write_report(str(copy))
    assert (copy / REPORT_FILE).read_bytes() == good


def test_a_results_table_without_runs_does_not_replace_the_report(synthetic_sweep, tmp_path):
    from kbetavae.errors import InputError

    copy = sweep_copy(synthetic_sweep, tmp_path)
    good = (copy / REPORT_FILE).read_bytes()
    (copy / "results.csv").write_text("beta,seed,status\n")
    with pytest.raises(InputError, match="lists no runs yet: nothing to report"):
        write_report(str(copy))
    assert (copy / REPORT_FILE).read_bytes() == good
