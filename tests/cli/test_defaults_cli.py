"""The CLI's defaults are the library's: an option left out does what the library does
unasked (cli/options.py: the CLI never restates a default, it reads it)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import typer

from cli.sweep import export, sweep, traverse
from cli.train import train
from kbetavae.study.jobs import run_sweep_jobs
from kbetavae.study.plan import SweepPlan
from kbetavae.training.config import TrainConfig
from kbetavae.training.rundir import export_dir
from kbetavae.viz.model_traversal import render_model_traversal


def cli_defaults(command) -> dict:
    """``{parameter: default}`` of a Typer command's options."""
    found = {}
    for name, parameter in inspect.signature(command).parameters.items():
        info = parameter.default
        if isinstance(info, typer.models.OptionInfo):
            found[name] = info.default
        elif parameter.default is not inspect.Parameter.empty:
            found[name] = parameter.default
    return found


def library_defaults(*sources) -> dict:
    """``{name: default}`` of dataclasses' fields and functions' parameters."""
    found = {}
    for source in sources:
        if dataclasses.is_dataclass(source):
            instance = source()
            found.update({f.name: getattr(instance, f.name) for f in dataclasses.fields(source)})
        else:
            for name, parameter in inspect.signature(source).parameters.items():
                if parameter.default is not inspect.Parameter.empty:
                    found[name] = parameter.default
    return found


def as_option(value):
    """A library default as the CLI spells it: a tuple as a comma-separated list."""
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return value


PAIRS = [
    (train, (TrainConfig, SweepPlan)),
    (sweep, (TrainConfig, SweepPlan, run_sweep_jobs)),
    (traverse, (render_model_traversal,)),
    (export, (export_dir, run_sweep_jobs)),
]


@pytest.mark.parametrize(("command", "sources"), PAIRS, ids=[c.__name__ for c, _ in PAIRS])
def test_an_options_default_is_the_librarys(command, sources):
    library = library_defaults(*sources)
    shared = sorted(set(cli_defaults(command)) & set(library))
    assert len(shared) >= 2
    wrong = {
        name: (cli_defaults(command)[name], library[name])
        for name in shared
        if cli_defaults(command)[name] not in (None, "")  # "not given": the library decides
        and str(cli_defaults(command)[name]) != str(as_option(library[name]))
    }
    assert not wrong, wrong
