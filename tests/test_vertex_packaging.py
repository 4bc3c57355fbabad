"""The Vertex AI job specs (vertex/*.yaml) and the training container's Dockerfile.

Neither Vertex AI nor a Docker engine is reachable here, so these check what can be checked
offline: the specs parse, every flag they pass is a flag of `kbetavae train` (read from the
CLI itself), the study's settings are the sweep's, and the Dockerfile's inputs exist.
"""

import configparser
import fnmatch
import json
import re
from pathlib import Path

import pytest
import typer
import yaml

from cli.main import app
from kbetavae.cloud import DEFAULT_HYPERTUNE_METRIC
from kbetavae.study.plan import SweepPlan

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "vertex").glob("*.yaml"))


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "vertex" / name).read_text())


def container_args(spec: dict) -> list[str]:
    job = spec.get("trialJobSpec", spec)  # a tuning job wraps a custom job spec
    (pool,) = job["workerPoolSpecs"]
    return pool["containerSpec"]["args"]


def trial_args(spec: dict) -> list[str]:
    """The container's args plus what Vertex AI appends per trial (--<parameterId>=value)."""
    extra = []
    for parameter in spec.get("studySpec", {}).get("parameters", []):
        values = parameter.get("discreteValueSpec", {}).get("values")
        value = values[0] if values else parameter["integerValueSpec"]["minValue"]
        extra.append(f"--{parameter['parameterId']}={value}")
    return container_args(spec) + extra


def parse_kbetavae(args: list[str]) -> tuple[str, dict]:
    """(subcommand, parameter values) of a kbetavae command line, parsed by the CLI itself."""
    group = typer.main.get_command(app)
    name, *rest = args
    command = group.commands[name]
    flags = {opt for param in command.params for opt in param.opts + param.secondary_opts}
    unknown = [a.split("=")[0] for a in rest if a.startswith("-") and a.split("=")[0] not in flags]
    assert not unknown, f"kbetavae {name} has no {unknown}"
    return name, command.make_context(name, list(rest)).params


def test_there_are_a_custom_job_and_a_tuning_job():
    assert [spec.name for spec in SPECS] == ["custom-job.yaml", "hp-tuning-job.yaml"]


@pytest.mark.parametrize("spec_path", SPECS, ids=lambda p: p.name)
def test_every_flag_a_spec_passes_is_a_kbetavae_train_flag(spec_path):
    spec = yaml.safe_load(spec_path.read_text())
    command, params = parse_kbetavae(trial_args(spec))
    assert command == "train"
    assert params["quiet"] is True  # job logs, not a progress bar


@pytest.mark.parametrize("spec_path", SPECS, ids=lambda p: p.name)
def test_spec_trains_with_the_studys_settings(spec_path):
    _, params = parse_kbetavae(trial_args(yaml.safe_load(spec_path.read_text())))
    study = SweepPlan().base
    for name in ("epochs", "batch_size", "lr", "subset", "latent_dim", "source", "objective"):
        assert params[name] == getattr(study, name), name


def test_tuning_job_is_a_grid_over_the_studys_betas_and_seeds():
    spec = load("hp-tuning-job.yaml")
    study = spec["studySpec"]
    parameters = {p["parameterId"]: p for p in study["parameters"]}

    assert set(parameters) == {"beta", "seed"}
    assert tuple(parameters["beta"]["discreteValueSpec"]["values"]) == SweepPlan().betas
    seeds = parameters["seed"]["integerValueSpec"]
    num_seeds = seeds["maxValue"] - seeds["minValue"] + 1
    assert study["algorithm"] == "GRID_SEARCH"
    assert spec["maxTrialCount"] == len(SweepPlan().betas) * num_seeds
    assert 1 <= spec["parallelTrialCount"] <= spec["maxTrialCount"]


def test_tuning_job_maximises_the_metric_its_trials_report():
    spec = load("hp-tuning-job.yaml")
    (metric,) = spec["studySpec"]["metrics"]
    _, params = parse_kbetavae(trial_args(spec))
    assert params["evaluate"] is True
    assert metric == {"metricId": params["hypertune_metric"], "goal": "MAXIMIZE"}
    assert params["hypertune_metric"] == DEFAULT_HYPERTUNE_METRIC == "mig"


@pytest.mark.parametrize("spec_path", SPECS, ids=lambda p: p.name)
def test_spec_writes_to_a_bucket_and_runs_the_image(spec_path):
    spec = yaml.safe_load(spec_path.read_text())
    job = spec.get("trialJobSpec", spec)
    assert job["baseOutputDirectory"]["outputUriPrefix"].startswith("gs://")
    (pool,) = job["workerPoolSpecs"]
    assert pool["replicaCount"] == 1 and pool["machineSpec"]["machineType"]
    assert "command" not in pool["containerSpec"]  # the image's ENTRYPOINT is kbetavae
    assert re.fullmatch(r"[\w.-]+/[\w.-]+/[\w.-]+/kbetavae:\w+", pool["containerSpec"]["imageUri"])


# -- the Dockerfile -----------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_dockerfile_copies_files_that_exist_and_are_not_docker_ignored():
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = []
    for instruction, arguments in dockerfile_instructions():
        if instruction in ("COPY", "ADD"):
            *paths, _destination = arguments.split()
            sources += paths
    assert {"setup.cfg", "pyproject.toml", "kbetavae", "cli"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_dockerfile_base_image_is_a_build_arg_and_entrypoint_is_the_cli():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("ARG", "BASE_IMAGE=python:3.11-slim")
    assert ("FROM", "${BASE_IMAGE}") in instructions
    (entrypoint,) = [json.loads(args) for name, args in instructions if name == "ENTRYPOINT"]
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    scripts = setup["options.entry_points"]["console_scripts"]
    assert entrypoint == ["kbetavae"] and "kbetavae = cli.main:main" in scripts
    (install,) = [args for name, args in instructions if name == "RUN" and "pip install" in args]
    extras = set(re.search(r"\.\[([\w,]+)\]", install).group(1).split(","))
    assert extras == {"hypertune"} and extras <= set(setup["options.extras_require"])
