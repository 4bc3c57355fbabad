"""The pre-registered analysis of seeds 4–7, exactly as ``docs/results/preregistration.md``
fixed it before their runs existed, and nothing more.

- **H1**: Modularity over active latents (> 0.01 nats) is higher at β = 10 than at β = 0.5:
  Welch's t on seeds 4–7; replicates if its Holm-adjusted p (over H1 and H2) < 0.05 and the
  difference β 10 − β 0.5 > 0. The paired-by-seed t and the p at each activity threshold
  are shown beside it, not tested.
- **H2**: axis-aligned runs (a long move of ≥ 15 px within 10° of each image axis, among
  the active latents) have higher MIG than the others: Welch's t over the runs of seeds
  4–7 (which share data and initialisation within a seed: the stated limitation);
  replicates if its Holm-adjusted p < 0.05 with the aligned group higher; fewer than 2
  runs in a group is "not testable", counted as not replicated.
- **H3** (descriptive): β = 50 collapses (0 active latents) in some of seeds 4–7 but not
  all; the count over all published seeds with its Clopper–Pearson 95 % interval.
- **H4**: each of MIG, Z-diff and Modularity (all latents), each β ≠ 1 against β = 1:
  18 Welch tests on seeds 4–7, Holm over the 18; the pairs with adjusted p < 0.05.

Scores are the registered evaluation, the sweep's own of the float32 model
(:func:`~kbetavae.training.rundir.read_sweep_metrics`); the archives' re-evaluation's
verdicts are printed beside, not tested. All comes from the committed files, as the marked
table ``preregistered`` of :mod:`kbetavae.study.published`; other seeds never enter here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats as scipy_stats

from kbetavae.metrics import metric_row
from kbetavae.study.comparisons import finished_by_seed
from kbetavae.study.formatting import format_interval, format_p, table_head
from kbetavae.study.results import MetricsReader, metric_records, read_results, sweep_run_dirs
from kbetavae.study.run_tables import axis_alignment
from kbetavae.study.sensitivity import ACTIVITY_THRESHOLDS, activity_rows
from kbetavae.study.statistics import Difference, holm, paired_difference, welch_difference
from kbetavae.training import rundir

# The registered evaluation (the sweep's, float32) and the published one (the archive's).
REGISTERED: MetricsReader = rundir.read_sweep_metrics
ARCHIVED: MetricsReader = rundir.read_metrics

SEEDS = (4, 5, 6, 7)
NOT_TESTABLE = "not testable (fewer than 2 runs in a group)"
ALPHA = 0.05
H1_BETAS = (0.5, 10.0)  # (lower, higher) as registered
BASELINE = 1.0
H4_METRICS = (("mig", "MIG"), ("zdiff", "Z-diff"), ("modularity", "Modularity"))
COLLAPSE_BETA = 50.0


@dataclass(frozen=True)
class Test:
    """One registered test: what it compares, its difference (``None``: not testable)
    and its Holm-adjusted p within its family."""

    label: str
    groups: str
    difference: Difference | None
    adjusted_p: float | None = None

    def called(self) -> bool:
        """Adjusted p below α with the registered direction (a positive difference)."""
        d = self.difference
        return d is not None and d.delta > 0 and self.called_either_way()

    def verdict(self) -> str:
        """The result in words, the registered direction's."""
        if self.difference is None:
            return NOT_TESTABLE
        return "replicates" if self.called() else "does not replicate"

    def called_either_way(self) -> bool:
        """Adjusted p below α, whichever the sign (H4 is two-sided)."""
        return self.adjusted_p is not None and self.adjusted_p < ALPHA


def _values(rows: Sequence[dict], column: str, beta: float) -> dict[int, float]:
    """Seed → finite value of ``column`` of the done runs of ``beta`` among :data:`SEEDS`."""
    registered = [row for row in rows if row.get("seed") in SEEDS]
    return finished_by_seed(registered, column).get(beta, {})


def _welch(a: dict[int, float], b: dict[int, float]) -> Difference | None:
    return (
        welch_difference(list(a.values()), list(b.values())) if min(len(a), len(b)) >= 2 else None
    )


def _paired(a: dict[int, float], b: dict[int, float]) -> Difference | None:
    shared = sorted(set(a) & set(b))
    if len(shared) < 2:
        return None
    return paired_difference([a[s] for s in shared], [b[s] for s in shared])


def scored_rows(results_dir: str, read: MetricsReader = REGISTERED) -> list[dict]:
    """``results.csv``'s rows with each finished run's score columns from the record
    ``read`` gives (by default the registered evaluation, :data:`REGISTERED`)."""
    rows = read_results(results_dir)
    done = [r for r in rows if r.get("status") == "done"]
    by_run = {
        (beta, seed): record
        for beta, records in metric_records(sweep_run_dirs(results_dir), done, read).items()
        for seed, record in records
        if record is not None
    }
    return [
        {**row, **metric_row(by_run[key])} if (key := (row["beta"], row["seed"])) in by_run else row
        for row in rows
    ]


def h1(rows: Sequence[dict]) -> Test:
    """Welch's t of Modularity over active latents, β 10 − β 0.5, seeds 4–7."""
    low, high = (_values(rows, "modularity_active", b) for b in H1_BETAS)
    groups = f"β {H1_BETAS[1]:g}: n {len(high)}; β {H1_BETAS[0]:g}: n {len(low)}"
    return Test("H1: Modularity (active) β 10 > β 0.5", groups, _welch(low, high))


def h2(results_dir: str, rows: Sequence[dict]) -> Test:
    """Welch's t of MIG (from ``rows``), axis-aligned runs − the others, seeds 4–7."""
    migs = {(r["beta"], r["seed"]): r.get("mig") for r in rows}
    aligned, others = {}, {}
    for row, _, axes in axis_alignment(results_dir):
        mig = migs.get((row["beta"], row["seed"]))
        if row["seed"] in SEEDS and isinstance(mig, int | float) and math.isfinite(mig):
            (aligned if len(axes) == 2 else others)[(row["beta"], row["seed"])] = float(mig)
    groups = f"aligned: n {len(aligned)}; others: n {len(others)}"
    return Test("H2: MIG of axis-aligned runs > others", groups, _welch(others, aligned))


def confirmatory(results_dir: str, read: MetricsReader = REGISTERED) -> list[Test]:
    """H1 and H2 with their p adjusted by Holm over the two (a test that cannot be run
    keeps no p and counts as not replicated), on the scores ``read`` gives."""
    return _confirmatory(results_dir, scored_rows(results_dir, read))


def _confirmatory(results_dir: str, rows: Sequence[dict]) -> list[Test]:
    return _adjusted([h1(rows), h2(results_dir, rows)])


def h4(rows: Sequence[dict]) -> list[Test]:
    """The 18 Welch tests of each metric, each β ≠ 1 against β = 1, Holm over the 18."""
    betas = sorted({r["beta"] for r in rows if r["seed"] in SEEDS} - {BASELINE})
    tests = []
    for column, title in H4_METRICS:
        base = _values(rows, column, BASELINE)
        for beta in betas:
            other = _values(rows, column, beta)
            label = f"{title}: β {beta:g} − β 1"
            tests.append(Test(label, f"n {len(other)} and {len(base)}", _welch(base, other)))
    return _adjusted(tests)


def _adjusted(tests: list[Test]) -> list[Test]:
    run = [t for t in tests if t.difference is not None]
    adjusted = (
        dict(zip(map(id, run), holm([t.difference.p for t in run]), strict=True)) if run else {}
    )
    return [Test(t.label, t.groups, t.difference, adjusted.get(id(t))) for t in tests]


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    """The exact (Clopper–Pearson) 95 % interval of a proportion k of n."""
    interval = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return float(interval.low), float(interval.high)


def h3(rows: Sequence[dict]) -> dict:
    """β = 50's collapsed runs among seeds 4–7 (holds if some but not all) and among all
    published seeds (with the Clopper–Pearson interval)."""
    done = [r for r in rows if r.get("status") == "done" and r["beta"] == COLLAPSE_BETA]
    counts = {
        r["seed"]: r.get("active_latents") for r in done if r.get("active_latents") is not None
    }
    registered = [counts[s] for s in SEEDS if s in counts]
    collapsed_all = sum(1 for c in counts.values() if c == 0)
    return {
        "seeds": len(registered),
        "collapsed": sum(1 for c in registered if c == 0),
        "holds": any(c == 0 for c in registered) and any(c >= 1 for c in registered),
        "all_seeds": len(counts),
        "collapsed_all": collapsed_all,
        "interval_all": clopper_pearson(collapsed_all, len(counts)) if counts else None,
    }


def _cells(test: Test, registered_direction: bool = True) -> list[str]:
    d = test.difference
    if d is None or registered_direction:
        verdict = test.verdict()
    else:
        verdict = "different" if test.called_either_way() else "not different"
    if d is None:
        return ["—", "—", "—", verdict]
    return [d.text(), format_p(d.p), format_p(test.adjusted_p), verdict]


def preregistered_markdown(results_dir: str) -> str:
    """The registered analysis as the report prints it: H1 and H2 (Holm over 2), H1's
    paired t and activity-threshold p beside it, H3's counts, H4's 18 tests."""
    if not any(r["seed"] in SEEDS and r.get("status") == "done" for r in read_results(results_dir)):
        return "No finished run of seeds 4–7 yet: the pre-registered analysis has no data.\n"
    rows = scored_rows(results_dir)
    runs, kept = _registered_runs(results_dir)
    lines = [_source_line(runs, kept), ""]
    lines += ["**Confirmatory family 1: H1 and H2 (Welch's t, seeds 4–7, Holm over the 2)**", ""]
    lines += table_head(["hypothesis", "runs", "difference [95 % CI]", "p", "Holm p", "result"])
    tests = _confirmatory(results_dir, rows)
    for test in tests:
        lines.append("| " + " | ".join([test.label, test.groups, *_cells(test)]) + " |")
    lines += ["", *_h1_beside(rows, results_dir), "", *_h3_lines(rows), ""]
    lines += [
        "**Confirmatory family 2: H4 (Welch's t against β = 1, seeds 4–7, Holm over the 18)**",
        "",
    ]
    lines += table_head(["metric and βs", "runs", "difference [95 % CI]", "p", "Holm p", "result"])
    h4_tests = h4(rows)
    for test in h4_tests:
        lines.append("| " + " | ".join([test.label, test.groups, *_cells(test, False)]) + " |")
    called = [t.label for t in h4_tests if t.called_either_way()]
    lines += [
        "",
        "H4, the pairs called different from the baseline: " + ("; ".join(called) or "none") + ".",
    ]
    if kept:
        lines += ["", _archived_verdicts(results_dir)]
    return "\n".join(lines) + "\n"


def _registered_runs(results_dir: str) -> tuple[int, int]:
    """(finished runs of seeds 4–7, those whose sweep record sits beside an archive's)."""
    runs = [
        run_dir
        for _, seed, run_dir in sweep_run_dirs(results_dir)
        if seed in SEEDS and rundir.read_metrics(run_dir) is not None
    ]
    return len(runs), sum(1 for r in runs if rundir.read_float32_metrics(r) is not None)


def _source_line(runs: int, kept: int) -> str:
    return (
        f"Scores: each run's evaluation by its sweep, of the float32 model at the registered "
        f"commit, as registered ({kept} of the {runs} runs from `metrics_float32.json`, kept "
        "beside the archive's re-evaluation; the others from `metrics.json`)."
    )


def _archived_verdicts(results_dir: str) -> str:
    """The registered tests on the archives' re-evaluation (``metrics.json``), as one line
    beside the registered verdicts."""
    rows = scored_rows(results_dir, ARCHIVED)
    tests = _confirmatory(results_dir, rows)
    h4_called = [t.label for t in h4(rows) if t.called_either_way()]
    parts = [
        f"{t.label.split(':')[0]} "
        + (f"Holm p {format_p(t.adjusted_p)} ({t.verdict()})" if t.difference else t.verdict())
        for t in tests
    ]
    return (
        "Beside them, not tested: the same tests on the float16 archives' re-evaluation "
        "(`metrics.json`): "
        + "; ".join(parts)
        + "; H4 pairs called different: "
        + ("; ".join(h4_called) or "none")
        + "."
    )


def _h1_beside(rows: Sequence[dict], results_dir: str) -> list[str]:
    low, high = (_values(rows, "modularity_active", b) for b in H1_BETAS)
    paired = _paired(low, high)
    text = "—" if paired is None else f"{paired.text()}, p {format_p(paired.p)}"
    by_threshold = []
    for threshold in ACTIVITY_THRESHOLDS:
        at = activity_rows(results_dir, threshold, REGISTERED)
        d = _welch(*(_values(at, "modularity_active", b) for b in H1_BETAS))
        by_threshold.append(f"{threshold:g}: {'—' if d is None else format_p(d.p)}")
    return [
        f"Beside H1, not tested: paired by seed, β 10 − β 0.5 = {text}; Welch p at each "
        "activity threshold (nats): " + ", ".join(by_threshold) + "."
    ]


def _h3_lines(rows: Sequence[dict]) -> list[str]:
    result = h3(rows)
    if not result["seeds"]:
        return ["H3 (descriptive): no β = 50 run of seeds 4–7."]
    verdict = "holds" if result["holds"] else "does not hold"
    low, high = result["interval_all"]
    return [
        f"H3 (descriptive): β = 50 collapsed (0 active latents) in {result['collapsed']} of "
        f"{result['seeds']} runs of seeds 4–7, so it {verdict}; over all {result['all_seeds']} "
        f"published seeds {result['collapsed_all']} collapsed, Clopper–Pearson 95 % "
        f"{format_interval(low, high, 2)}."
    ]
