"""The shared error types: one message format for damaged files."""

import pickle

from kbetavae.errors import DamagedFile, InputError


def test_damaged_file_names_the_path_the_problem_and_the_remedy():
    error = DamagedFile("runs/a/sweep.json", "empty", "rerun `kbetavae sweep --out runs/a`")
    assert isinstance(error, InputError)
    assert str(error) == "runs/a/sweep.json is damaged (empty): rerun `kbetavae sweep --out runs/a`"
    assert (error.path, error.problem) == ("runs/a/sweep.json", "empty")


def test_damaged_file_survives_pickling_between_processes():
    error = pickle.loads(pickle.dumps(DamagedFile("a.csv", "not CSV", "delete it")))
    assert str(error) == "a.csv is damaged (not CSV): delete it"
    assert error.remedy == "delete it"
