"""``kbetavae evaluate``: the disentanglement metrics of one trained model -> metrics.json.

Accepts a run directory (its ``model.keras``), a ``.keras`` file, or a SavedModel
directory with an ``encode`` signature (images float32 (N, 64, 64, 1) -> ``mu``,
``logvar``); a TF Serving model directory whose numbered version subdirectories hold
SavedModels evaluates the highest version.
"""

from __future__ import annotations

import os
import time

import typer

from cli import options
from cli.common import user_errors, whole_number
from kbetavae.metrics import registry
from kbetavae.metrics.zdiff import DEFAULT_CLASSIFIER
from kbetavae.models_io import load_encoder_decoder, resolve_model
from kbetavae.study.plan import PROTOCOL_POINTS, check_eval_points
from kbetavae.training.rundir import METRICS_FILE, check_run, read_config


def run_settings(path: str) -> dict:
    """The training config of a run directory (source, data, seed), or {} if there is none."""
    from kbetavae import io as kio

    directory = path if kio.is_dir(path) else os.path.dirname(path)
    config = read_config(directory)
    return config.to_dict() if config is not None else {}


def default_output(kind: str, model_path: str) -> str:
    """Where metrics.json goes: into a run directory, but beside a SavedModel's TF Serving
    model directory (a file inside it would be served, or read as a model version).

    ``saved_models/s/beta=4_seed=0/1`` -> ``saved_models/s/beta=4_seed=0_v1_metrics.json``;
    an unversioned SavedModel ``exported/`` -> ``exported_metrics.json``.
    """
    if kind != "saved_model":
        return os.path.join(os.path.dirname(model_path), METRICS_FILE)
    path = model_path.rstrip("/")
    name = os.path.basename(path)
    if name.isdigit():
        serving = os.path.dirname(path)
        return f"{serving}_v{name}_{METRICS_FILE}"
    return f"{path}_{METRICS_FILE}"


@user_errors
def evaluate(
    path: str = typer.Argument(
        ..., help="run directory, .keras file, or SavedModel (version) directory (or gs://)"
    ),
    metrics: str = typer.Option(
        ",".join(registry.default_names()), "--metrics", help=registry.help_text()
    ),
    source: str = typer.Option(
        None, "--source", help="replica, dsprites or a file (default: the run's, else replica)"
    ),
    data: str = typer.Option(
        None, "--data", help="dsprites or a variant (default: the run's, else dsprites)"
    ),
    painting: str = typer.Option(
        None, "--painting", help="scream-dsprites' image (default: the run's, else offline)"
    ),
    seed: int = typer.Option(
        None, "--seed", help="seed of every draw (default: the run's, else 0)"
    ),
    eval_points: int = typer.Option(
        PROTOCOL_POINTS,
        "--eval-points",
        parser=whole_number,
        help="points for MIG/Modularity, Z-diff/FactorVAE training points; test and "
        "evaluation sets are half (10,000 = the disentanglement_lib protocol)",
    ),
    zdiff_classifier: options.ZdiffClassifier = DEFAULT_CLASSIFIER,
    batch_size: int = typer.Option(1024, "--batch-size", help="images per encoder call"),
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
    """Compute MIG, Z-diff and Modularity (or --metrics) of a model; write metrics.json."""
    from kbetavae.data import open_source
    from kbetavae.io import check_reachable, is_dir, write_json_atomic
    from kbetavae.metrics import evaluate as evaluate_metrics
    from kbetavae.metrics import protocol_sizes

    started = time.perf_counter()
    check_eval_points(eval_points)
    check_reachable(path, "model")
    if is_dir(path):  # a run directory's files are checked before its model is trusted
        check_run(path, need_model=False)  # a missing model: models_io says what to do
    kind, model_path = resolve_model(path)
    settings = run_settings(model_path) if kind == "keras" else {}
    source = source or settings.get("source") or "replica"
    data = data or settings.get("data") or "dsprites"
    painting = painting or settings.get("painting")
    seed = seed if seed is not None else int(settings.get("seed", 0))
    names = tuple(m.strip() for m in metrics.split(",") if m.strip())
    sizes = protocol_sizes(eval_points)
    encode, _ = load_encoder_decoder(model_path)
    report = evaluate_metrics(
        encode,
        open_source(source, data=data, painting=painting),
        metrics=names,
        seed=seed,
        **sizes,
        zdiff_classifier=zdiff_classifier,
        batch_size=batch_size,
        code_table=code_table,
    )
    report = {"model": os.fspath(model_path), "source": source, **report}
    report["timing"]["command_seconds"] = time.perf_counter() - started
    target = output or default_output(kind, model_path)
    write_json_atomic(target, report)
    scores = "  ".join(f"{name} {report[name]['score']:.3f}" for name in names)
    typer.echo(
        f"{scores}  active latents {report['active_latents']}/{report['num_latents']}  "
        f"({eval_points:,} eval points, {report['timing']['command_seconds']:.0f} s) -> {target}"
    )
