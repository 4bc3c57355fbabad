"""The metric registry is the one table: a metric added there alone reaches every output."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.metrics import Protocol, evaluate, registry
from kbetavae.metrics.results import MetricResult
from kbetavae.metrics.udr import udr
from kbetavae.study.results import read_results, table_columns, write_results

SMALL = Protocol(
    num_points=200,
    num_test_points=100,
    num_train=20,
    num_eval=10,
    num_variance_points=200,
)


def code_spread(inputs) -> MetricResult:
    """A toy metric: the mean standard deviation of the codes (identity codes of the
    factor grid: the mean of the factors' class-index sds)."""
    return MetricResult(score=float(np.mean(np.std(inputs.codes, axis=0))))


TOY = registry.MetricSpec("spread", "Code spread (toy)", code_spread, cost="instant")


@pytest.fixture
def toy_metric():
    registry.register(TOY)
    yield TOY
    registry.unregister(TOY.name)


def test_the_builtin_table_lists_the_studys_defaults_first():
    assert registry.default_names() == ("mig", "zdiff", "modularity")
    assert registry.names()[:6] == ("mig", "zdiff", "modularity", "sap", "factorvae", "dci")
    assert registry.columns()[-3:] == (
        "dci_disentanglement",
        "dci_completeness",
        "dci_informativeness",
    )


def test_a_toy_metric_reaches_evaluate_the_table_and_the_figure_titles(toy_metric, fakes, tmp_path):
    report = evaluate(
        fakes.identity_encoder(noise_scale=0.0),
        fakes.FactorImages(),
        ["mig", "spread"],
        protocol=SMALL,
    )
    # identity codes are the factor class indices: their sds are the factors' sds
    factors = np.asarray(fakes.FactorImages().sample_factors(200, np.random.default_rng(0)))
    assert report["spread"]["score"] > 0
    assert report["spread"]["score"] == pytest.approx(
        float(np.mean(np.std(factors.astype(float), axis=0))), rel=0.25
    )
    row = {
        "beta": 1.0,
        "seed": 0,
        "status": "done",
        **registry.spec("spread").row(report["spread"]),
    }
    assert "spread" in table_columns([row])
    write_results(str(tmp_path), [row])
    assert read_results(str(tmp_path))[0]["spread"] == pytest.approx(report["spread"]["score"])
    assert "spread" in (tmp_path / "results.md").read_text()
    assert registry.column_title("spread") == "Code spread (toy)"

    from kbetavae.viz.metric_plots import metrics_vs_beta

    figure = metrics_vs_beta([row], ["spread"])
    assert "Code spread (toy)" in [ax.get_title() for ax in figure.axes]


def test_a_toy_metric_reaches_the_cli_help_and_is_accepted_by_the_plan(toy_metric):
    from kbetavae.study.plan import SweepPlan

    assert SweepPlan(metrics=("spread",)).metrics == ("spread",)
    script = textwrap.dedent(
        """
        import re
        import sys
        from kbetavae.metrics import registry
        from kbetavae.metrics.results import MetricResult
        registry.register(registry.MetricSpec(
            "spread", "Code spread", lambda x: MetricResult(0.0), cost="instant"))
        from typer.testing import CliRunner
        from cli.main import app
        for command in ("sweep", "evaluate", "train"):
            out = CliRunner().invoke(app, [command, "--help"], terminal_width=200).output
            out = re.sub(r"[\\s│]+", " ", out)  # help text wraps inside a box
            sys.stdout.write(command + ":" + str("spread (instant)" in out) + "\\n")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["sweep:True", "evaluate:True", "train:True"]


def test_unknown_metrics_are_one_error_naming_the_choices():
    with pytest.raises(InputError, match="metrics: unknown beauty; choose from mig, zdiff"):
        registry.check_names(["mig", "beauty"])
    with pytest.raises(InputError, match="not a metric column"):
        registry.metric_of_column("beauty")


def test_udr_is_the_tables_metric_over_several_models():
    assert registry.names(kind="models") == ("udr_lasso", "udr_spearman")
    assert "udr_lasso" not in registry.names()  # --metrics names metrics of one model
    assert "udr_lasso" not in registry.columns() and "udr_lasso" in registry.columns(kind=None)
    assert registry.column_title("udr_spearman") == "UDR (Spearman)"
    with pytest.raises(InputError, match="udr_lasso: a metric of kind 'models', not 'model'"):
        registry.check_names(["mig", "udr_lasso"])
    codes = np.random.default_rng(0).standard_normal((3, 400, 4))
    codes[1] = -codes[0][:, ::-1] + 0.5 * codes[1]  # models 0 and 1 share their latents
    kl = np.ones((3, 4))
    for similarity in ("lasso", "spearman"):
        metric = registry.spec(f"udr_{similarity}")
        result = metric.compute(codes, kl)
        direct = udr(codes, kl, similarity=similarity)
        np.testing.assert_array_equal(result.model_scores, direct.model_scores)
        assert result.method == similarity
        assert metric.row(result.model_entry(0)) == {metric.name: direct.model_scores[0]}
