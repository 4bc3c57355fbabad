"""Every figure of a sweep, rendered from what the sweep saved (no retraining).

Files under ``<sweep>/figures/``:

- ``loss_kl.png``, ``loss_reconstruction.png``, ``loss_total.png``: curves per β;
- ``metrics_vs_beta.png``: MIG, Z-diff, Modularity (and extras) against β, baseline dashed;
- ``kl_per_latent.png``: β × latent mean KL (metrics.json ``kl_per_latent``);
- ``matrices_beta=<β>.png``: latent × factor matrices of every β (its first finished seed);
- ``traversals_beta=<β>.png`` and ``traversals/<run>.gif`` for every model;
- ``reconstructions.png``: inputs over reconstructions, one row per β.

A grid of several methods draws instead ``metrics_vs_weight.png`` (each metric against each
method's weight) and ``udr_vs_metrics.png`` (UDR against each supervised metric)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from kbetavae import io as kio
from kbetavae.errors import InputError
from kbetavae.metrics import registry
from kbetavae.metrics.latent_kl import kl_caption, kl_table, recorded_kl
from kbetavae.metrics.traversal_motion import figure_image_index
from kbetavae.study.methods import keyed_by_beta
from kbetavae.study.results import (
    FIGURES_DIR,
    check_has_runs,
    metric_records,
    read_plan,
    read_results,
    sweep_run_dirs,
)
from kbetavae.training.rundir import dir_name, has_model, read_history, read_metrics
from kbetavae.viz.curves import loss_curves
from kbetavae.viz.figures import save_figure
from kbetavae.viz.kl_heatmap import kl_heatmap
from kbetavae.viz.matrices import metric_matrices
from kbetavae.viz.method_plots import metrics_vs_weight, udr_vs_metrics
from kbetavae.viz.metric_plots import metrics_vs_beta
from kbetavae.viz.palette import BASELINE_BETA, beta_colors
from kbetavae.viz.reconstructions import reconstruction_grid
from kbetavae.viz.traversals import traversal_figure, traversal_gif, traversal_grid

KL_FIGURE = "kl_per_latent.png"
# A grid of methods (kbetavae.viz.method_plots).
WEIGHT_FIGURE = "metrics_vs_weight.png"
UDR_FIGURE = "udr_vs_metrics.png"
# The study's traversal figure is of β = 5 (or the finished β nearest it) unless asked.
DEFAULT_TRAVERSE_BETA = 5.0
TRAVERSALS_DIR = "traversals"
LOSS_FIGURES = {
    "kl": "loss_kl.png",
    "reconstruction": "loss_reconstruction.png",
    "loss": "loss_total.png",
}


def render_sweep_figures(
    sweep_dir: str,
    data=None,
    traverse_beta: float | None = None,
    image_index: int | None = None,
    models: bool | None = None,
) -> list[str]:
    """Render all figures of the sweep in ``sweep_dir``; return the paths written.

    The traversal figure is of ``traverse_beta``; InputError, before anything is drawn,
    if that β has no finished run (None: the finished β nearest 5).
    ``models=False`` draws only what the run files give (losses, metrics, KL, matrices):
    a published report's runs have no models, and its traversals and reconstructions stay
    as they were drawn from them (:func:`publish_figures`). The default draws the
    model figures too when every finished run has its model."""
    figures = os.path.join(sweep_dir, FIGURES_DIR)
    rows = read_results(sweep_dir)
    check_has_runs(sweep_dir, rows)
    if not keyed_by_beta(rows):
        return _grid_figures(figures, rows)
    runs = sweep_run_dirs(sweep_dir)
    traverse_beta = traversal_beta(rows, traverse_beta)
    colors = beta_colors(beta for beta, _, _ in runs)
    written: list[str] = []

    histories: dict[float, list[dict]] = {}
    for beta, _, run_dir in runs:
        history = read_history(run_dir)
        if history:
            columns = {key: [row.get(key, np.nan) for row in history] for key in history[0]}
            histories.setdefault(beta, []).append(columns)
    for key, name in LOSS_FIGURES.items():
        path = os.path.join(figures, name)
        save_figure(loss_curves(histories, key, colors), path)
        written.append(path)

    done = [r for r in rows if r.get("status") == "done"]
    metric_keys = [k for k in registry.columns() if any(r.get(k) is not None for r in done)]
    if metric_keys:
        path = os.path.join(figures, "metrics_vs_beta.png")
        save_figure(metrics_vs_beta(done, metric_keys, colors), path)
        written.append(path)

    first_ok = first_done_runs(runs, done)
    records = metric_records(runs, done)
    kl = kl_table({beta: [r for _, r in found] for beta, found in records.items()})
    if kl.values:
        path = os.path.join(figures, KL_FIGURE)
        save_figure(kl_heatmap(kl.values, kl.caption, kl.labels), path)
        written.append(path)

    # No "best MIG" label: which β is best is for comparisons.compare_pairs to say, and at a
    # few seeds it rarely can (docs/results: nothing ordered at three).
    for beta in sorted(first_ok):
        seed, record = records[beta][0]
        title = f"β = {beta:g}, seed {seed}" + (" (baseline VAE)" if beta == BASELINE_BETA else "")
        path = os.path.join(figures, f"matrices_beta={beta:g}.png")
        save_figure(metric_matrices(record, title), path)
        written.append(path)

    if models is None:
        ok = {(r["beta"], r["seed"]) for r in done}
        models = all(has_model(d) for b, s, d in runs if (b, s) in ok)
    if first_ok and models:
        data = data if data is not None else read_plan(sweep_dir).base.open_data()
        written += _model_figures(figures, runs, first_ok, done, data, traverse_beta, image_index)
    return written


def _grid_figures(figures: str, rows: Sequence[dict]) -> list[str]:
    """A grid of several objectives (or settings sharing a β): the methods' figures."""
    done = [r for r in rows if r.get("status") == "done"]
    present = [k for k in registry.columns(kind=None) if any(r.get(k) is not None for r in done)]
    supervised = [k for k in present if k in registry.columns()]
    written = []
    if supervised:
        path = os.path.join(figures, WEIGHT_FIGURE)
        save_figure(metrics_vs_weight(done, supervised), path)
        written.append(path)
    udr = [k for k in present if k in registry.columns(kind=registry.SEVERAL_MODELS)]
    if udr and supervised:
        path = os.path.join(figures, UDR_FIGURE)
        save_figure(udr_vs_metrics(done, udr[0], supervised), path)
        written.append(path)
    return written


def _model_figures(figures, runs, first_ok, done, data, traverse_beta, image_index):
    from kbetavae.trained.load import load_model

    written = []
    index = image_index if image_index is not None else figure_image_index(data)
    image = data.images_at(np.array([index])).astype(np.float32)
    inputs = data.images_at(np.random.default_rng(0).choice(data.num_images, 8, replace=False))
    inputs = inputs.astype(np.float32)
    chosen = min(first_ok, key=lambda b: abs(b - traverse_beta))
    ok_dirs = {(r["beta"], r["seed"]) for r in done}
    reconstructions = {}
    for beta, seed, run_dir in runs:
        if (beta, seed) not in ok_dirs:
            continue
        model = load_model(run_dir)

        # Eager calls: a traced function per model would retrace for each of the runs
        # (TensorFlow warns), and these batches are tiny.
        def encode(x, m=model):
            return np.asarray(m.encode(x)[0])

        def decode(z, m=model):
            return np.asarray(m.decode(z))

        mu = encode(image)[0]
        grid, values = traversal_grid(decode, mu)
        path = os.path.join(figures, traversal_gif_name(run_dir))
        kio.write_bytes_atomic(path, traversal_gif(grid))
        written.append(path)
        if run_dir == first_ok.get(beta):
            reconstructions[beta] = decode(encode(inputs))
            if beta == chosen:
                found = recorded_kl(read_metrics(run_dir))
                kl, caption = (None, None) if found is None else (found[0], kl_caption(*found[1:]))
                title = f"Latent traversals, β = {beta:g} (seed {seed}), image {index}"
                path = os.path.join(figures, f"traversals_beta={beta:g}.png")
                figure = traversal_figure(grid, values, kl, title, image[0], kl_caption=caption)
                save_figure(figure, path)
                written.append(path)
    path = os.path.join(figures, "reconstructions.png")
    save_figure(reconstruction_grid(inputs, reconstructions), path)
    written.append(path)
    return written


def publish_figures(sweep_dir: str, dest: str) -> list[str]:
    """The figures of a published report ``dest`` after ``sweep_dir``'s runs joined it
    (:func:`kbetavae.study.publish.publish`): those that need only run files redrawn over
    all its runs; those drawn from models copied from the sweep — each of its runs'
    traversal GIF, and the per-β traversal figure and reconstruction grid when the sweep
    holds the runs they show (each β's first finished seed). Returns the paths written."""
    source = os.path.join(sweep_dir, FIGURES_DIR)
    target = os.path.join(dest, FIGURES_DIR)
    written = render_sweep_figures(dest, models=False)
    drawn = {os.path.basename(path) for path in written}
    sweep_runs = sweep_run_dirs(sweep_dir)
    for _, _, run_dir in sweep_runs:
        gif = os.path.join(source, traversal_gif_name(run_dir))
        if kio.exists(gif):
            written.append(kio.copy_atomic(gif, os.path.join(target, traversal_gif_name(run_dir))))

    def first_names(directory: str, runs) -> dict[float, str]:
        done = [r for r in read_results(directory) if r.get("status") == "done"]
        return {beta: dir_name(d) for beta, d in first_done_runs(runs, done).items()}

    if not kio.is_dir(source) or first_names(sweep_dir, sweep_runs) != first_names(
        dest, sweep_run_dirs(dest)
    ):
        return written
    for path in sorted(kio.glob(source, "*.*")):
        if os.path.basename(path) not in drawn:
            written.append(kio.copy_atomic(path, os.path.join(target, os.path.basename(path))))
    return written


def traversal_gif_name(run_dir: str) -> str:
    """A run's traversal GIF, relative to its sweep's (or report's) figures directory."""
    return os.path.join(TRAVERSALS_DIR, f"{dir_name(run_dir)}.gif")


def traversal_beta(rows: Sequence[dict], requested: float | None) -> float | None:
    """The β the traversal figure draws: ``requested`` if it has a finished run among
    ``rows`` (results.csv), else InputError naming the finished βs; None: the finished β
    nearest 5 (None if no run finished)."""
    finished = sorted({r["beta"] for r in rows if r.get("status") == "done"})
    if requested is None:
        return min(finished, key=lambda b: abs(b - DEFAULT_TRAVERSE_BETA), default=None)
    if requested not in finished:
        names = ", ".join(f"{b:g}" for b in finished) or "none"
        raise InputError(
            f"traverse_beta {requested:g} has no finished run to draw (finished βs: {names})"
        )
    return requested


def first_done_runs(runs, done) -> dict[float, str]:
    """β -> the run directory the per-β figures (matrices, traversals, reconstructions)
    draw: the β's first finished run in seed order."""
    ok = {(r["beta"], r["seed"]) for r in done}
    first: dict[float, str] = {}
    for beta, seed, run_dir in runs:
        if (beta, seed) in ok and beta not in first:
            first[beta] = run_dir
    return first
