"""The protocol variants' scores against the study's Table 1: by β, and as a summary."""

from __future__ import annotations

import csv

import pytest
from scipy import stats

from kbetavae.errors import InputError
from kbetavae.study import variant_tables as vt
from kbetavae.study.protocol_variants import ScoredModel, VariantScore


def _model(name, beta, mig, zdiff):
    scores = [VariantScore("v", "mig", mig), VariantScore("v", "zdiff", zdiff)]
    return ScoredModel(name, beta, scores)


STUDY = {
    1.0: {"mig": 0.45, "zdiff": 0.36},
    10.0: {"mig": 0.52, "zdiff": 0.35},
    50.0: {"mig": 0.0, "zdiff": float("nan")},
}


def test_the_summary_counts_scores_against_the_study_range_at_the_models_betas():
    # Models at β 1 and 10: the study's MIG range there is 0.45-0.52, Z-diff 0.35-0.36.
    models = [_model("a", 1.0, 0.50, 0.80), _model("b", 10.0, 0.30, 0.355)]
    mig_row, zdiff_row = vt.variant_summary(models, STUDY)
    assert (mig_row["study_low"], mig_row["study_high"]) == (0.45, 0.52)
    assert (mig_row["inside"], mig_row["below"], mig_row["above"]) == (1, 1, 0)
    assert mig_row["verdict"] == "partly"
    assert (zdiff_row["low"], zdiff_row["high"]) == (0.355, 0.80)
    assert (zdiff_row["inside"], zdiff_row["above"], zdiff_row["verdict"]) == (1, 1, "partly")
    inside = vt.variant_summary([_model("c", 1.0, 0.45, 0.36)], STUDY)
    assert [row["verdict"] for row in inside] == ["inside", "inside"]
    outside = vt.variant_summary([_model("d", 1.0, 0.9, 0.9)], STUDY)
    assert [row["verdict"] for row in outside] == ["outside", "outside"]


def test_the_study_range_skips_nan_and_uses_every_beta_when_none_is_reported():
    assert vt.study_range(STUDY, "zdiff", [50.0, 1.0]) == (0.36, 0.36)
    assert vt.study_range(STUDY, "mig", [None, 3.0]) == (0.0, 0.52)
    with pytest.raises(InputError, match="no zdiff value"):
        vt.study_range(STUDY, "zdiff", [50.0])


def test_the_tables_read_the_committed_study_table_and_say_where_each_variant_lies(tmp_path):
    models = [_model("beta=1_seed=0", 1.0, 0.2, 0.8), _model("beta=50_seed=0", 50.0, 0.0, 0.2)]
    summary_csv, summary_md = vt.write_variant_tables(models, str(tmp_path))
    with open(summary_csv) as f:
        mig_row, zdiff_row = csv.DictReader(f)
    # docs/results/study_table.csv: MIG 0.4547 at β 1 and 0.0000 at β 50; Z-diff 0.3570 at
    # β 1 and nan at β 50.
    assert (mig_row["study_low"], mig_row["study_high"]) == ("0.000000", "0.454700")
    assert (mig_row["inside"], mig_row["verdict"]) == ("2", "inside")
    assert (zdiff_row["study_low"], zdiff_row["study_high"]) == ("0.357000", "0.357000")
    assert (zdiff_row["below"], zdiff_row["above"], zdiff_row["verdict"]) == ("1", "1", "outside")
    text = open(summary_md).read()
    assert "| v | Z-diff | 2 | 0.2000–0.8000 | 0.3570 | 0 | 1 | 1 | outside |" in text


def test_no_models_is_an_input_error():
    with pytest.raises(InputError, match="at least one scored model"):
        vt.variant_summary([], STUDY)


def test_by_beta_gives_each_betas_t_interval_and_bolds_it_where_the_study_lies_inside():
    # β 1: scores 0.40, 0.44, 0.48: mean 0.44, sd 0.04, half-width t(0.975, 2) 0.04 / √3
    # = 4.303 · 0.02309 = 0.0994, so [0.341, 0.539] holds the study's MIG 0.45 at β 1; its
    # Z-diff 0.36 lies below [0.80, 0.80]. β 10: one model, its score (0.30; study 0.52).
    models = [_model(f"beta=1_seed={k}", 1.0, mig, 0.8) for k, mig in enumerate((0.40, 0.44, 0.48))]
    models.append(_model("beta=10_seed=0", 10.0, 0.30, 0.355))
    text = vt.by_beta_markdown(models, STUDY)
    half = stats.t.ppf(0.975, 2) * 0.04 / 3**0.5
    assert f"{0.44 - half:.3f}" == "0.341" and f"{0.44 + half:.3f}" == "0.539"
    lines = text.splitlines()
    assert lines[0] == "| variant | metric | β = 1 | β = 10 | study inside at β |"
    assert "| study (Table 1) | MIG | 0.450 | 0.520 | |" in lines
    assert "| v | MIG | **0.440 [0.341, 0.539]** | 0.300 | 1 |" in lines
    assert "| v | Z-diff | 0.800 [0.800, 0.800] | 0.355 | none |" in lines
    assert "over each β's models (n = 1 or 3; one model: its score)" in text
    with pytest.raises(InputError, match="models with a β"):
        vt.by_beta_markdown([_model("x", None, 0.1, 0.2)], STUDY)
