"""``kbetavae evaluate``: the disentanglement metrics of one trained model -> metrics.json.

Accepts a run directory (its ``model.keras``; a published run's ``encoder.npz``), a
``.keras`` file, or a SavedModel directory with an ``encode`` signature (images float32
(N, 64, 64, 1) -> ``mu``, ``logvar``); a TF Serving model directory whose numbered version
subdirectories hold SavedModels evaluates the highest version. A run (its config.json
beside the model) is evaluated as its sweep evaluated it
(:func:`kbetavae.study.evaluation.evaluate_encoders`), held-out ELBO included when the
source is the run's own, with the metrics and protocol its metrics.json records unless
options choose others. A published run without its model is evaluated from its encoder
archive (:func:`kbetavae.study.evaluation.evaluate_archives`): the entries that need more
than the encoder are kept from its metrics.json, and said so.
"""

from __future__ import annotations

import os
import time

import typer

from cli import options
from cli.common import user_errors
from kbetavae.metrics import registry
from kbetavae.metrics.protocol import check_classifier, check_eval_points
from kbetavae.metrics.representation import ENCODE_BATCH_SIZE
from kbetavae.trained.load import load_encoder_decoder, resolve_model
from kbetavae.training.rundir import (
    check_run,
    config_of_model,
    data_choice,
    exported_metrics_path,
    metrics_path,
)


def default_output(kind: str, model_path: str) -> str:
    """Where metrics.json goes: into a run directory, but beside a SavedModel's TF Serving
    model directory (a file inside it would be served, or read as a model version)."""
    if kind != "saved_model":
        return metrics_path(os.path.dirname(model_path))
    return exported_metrics_path(model_path)


@user_errors
def evaluate(
    path: str = typer.Argument(
        ..., help="run directory, .keras file, or SavedModel (version) directory (or gs://)"
    ),
    metrics: str = typer.Option(
        None,
        "--metrics",
        help=registry.help_text(f"the run's, else {','.join(registry.default_names())}"),
    ),
    source: options.RunSource = None,
    data: options.RunData = None,
    painting: options.RunPainting = None,
    seed: int = typer.Option(
        None, "--seed", help="seed of every draw (default: the run's, else 0)"
    ),
    eval_points: options.EvalPoints = None,
    zdiff_classifier: options.ZdiffClassifier = None,
    batch_size: int = typer.Option(
        ENCODE_BATCH_SIZE, "--batch-size", help="images per encoder call"
    ),
    code_table: str = typer.Option(
        "lazy", "--code-table", help="lazy (encode each image once), grid (all 737,280) or none"
    ),
    output: str = typer.Option(
        None,
        "--output",
        "-o",
        help="where to write (default: <run dir>/metrics.json; for a SavedModel, beside its "
        "serving directory, never inside it: <model>_v<version>_metrics.json)",
    ),
) -> None:
    """Compute a model's disentanglement metrics, and a run's held-out ELBO; write
    metrics.json. A run is evaluated as its metrics.json records (metrics, sample size,
    classifier), so its sweep's record is reproduced; else MIG, Z-diff and Modularity at
    the full protocol."""
    from kbetavae.data import open_source
    from kbetavae.io import check_reachable, is_dir, write_json_atomic
    from kbetavae.study.evaluation import (
        evaluate_archives,
        evaluate_encoders,
        recorded_choice,
        train_indices,
    )

    started = time.perf_counter()
    if eval_points is not None:  # the options first, then the files
        check_eval_points(eval_points)
    if zdiff_classifier is not None:
        check_classifier(zdiff_classifier)
    check_reachable(path, "model")
    if is_dir(path):  # a run directory's files are checked before its model is trusted
        check_run(path, need_model=False)  # a missing model: trained.load says what to do
    kind, model_path = resolve_model(path)
    config = config_of_model(model_path) if kind in ("keras", "archive") else None
    source, data, painting = data_choice(config, source, data, painting)
    seed = seed if seed is not None else (config.seed if config else 0)
    run_dir = os.path.dirname(model_path) if config is not None else None
    names, protocol, recorded = recorded_choice(
        run_dir, options.comma_list(metrics), eval_points, zdiff_classifier
    )
    names = registry.check_names(names)
    images = open_source(source, data=data, painting=painting)
    # The held-out ELBO needs the images the run trained on: those of its own source.
    same = config is not None and (source, data) == (config.source, config.data)
    trained_on = train_indices(images, config) if same else None
    sizes = {"batch_size": batch_size, "code_table": code_table}
    if kind == "archive":
        ((report, note),) = evaluate_archives([run_dir], images, names, protocol, seed, **sizes)
        typer.echo(f"kbetavae: note: {note}", err=True)
    else:
        encoders = [load_encoder_decoder(model_path)]
        (report,) = evaluate_encoders(encoders, images, names, protocol, seed, trained_on, **sizes)
    report = {"model": os.fspath(model_path), "source": source, **report}
    report["timing"]["command_seconds"] = time.perf_counter() - started
    target = output or default_output(kind, model_path)
    write_json_atomic(target, report)
    scores = "  ".join(f"{name} {report[name]['score']:.3f}" for name in names)
    typer.echo(
        f"{scores}  active latents {report['active_latents']}/{report['num_latents']}  "
        f"({protocol.num_points:,} eval points{', as the run recorded' if recorded else ''}, "
        f"{report['timing']['command_seconds']:.0f} s) -> {target}"
    )
