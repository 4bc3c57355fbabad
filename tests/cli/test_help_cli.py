"""Help and version as a new user first meets them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import kbetavae
from cli.progress import latent_summary

KBETAVAE = [sys.executable, "-m", "cli.main"]
# Wide enough that no option's help wraps: any line break left is the help text's own.
ENV = {**os.environ, "COLUMNS": "250", "TF_CPP_MIN_LOG_LEVEL": "2"}


def kbetavae_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*KBETAVAE, *args], capture_output=True, text=True, env=ENV, timeout=300)


def test_version_prints_the_package_version():
    done = kbetavae_cli("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"kbetavae {kbetavae.__version__}"


@pytest.mark.parametrize("command", [[], ["sweep"], ["data", "export"]])
def test_dash_h_is_help_without_type_or_brace_artefacts(command):
    short, long = kbetavae_cli(*command, "-h"), kbetavae_cli(*command, "--help")
    assert short.returncode == 0 and short.stdout == long.stdout
    assert "Usage: kbetavae" in short.stdout
    assert "<bool>" not in short.stdout and "{" not in short.stdout


def test_help_paragraphs_are_not_broken_mid_sentence():
    help_text = kbetavae_cli("sweep", "-h").stdout
    assert any(
        "finished runs are skipped, an interrupted run continues from its last epoch" in line
        for line in help_text.splitlines()
    )


def test_the_training_line_counts_active_latents_from_the_per_latent_kl():
    logs = {"loss": 120.5, "reconstruction": 100.25, "kl": 20.25, "kl_0": 20.0, "kl_1": 0.25}
    logs["kl_2"] = 0.005  # below the 0.01-nat threshold: inactive
    assert latent_summary(logs) == (
        "loss 120.50  reconstruction 100.25  kl 20.25  active latents 2/3"
    )


def test_the_objective_help_names_every_registered_objective():
    from cli.options import Objective
    from kbetavae.model.objectives import OBJECTIVES

    help_text = Objective.__metadata__[0].help
    assert all(name in help_text for name in OBJECTIVES), help_text
