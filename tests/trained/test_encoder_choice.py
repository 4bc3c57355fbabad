"""The encoder formulation a machine runs fastest: timed once, remembered, forced by name."""

import json
import threading

import keras
import numpy as np
import pytest

from kbetavae.errors import InputError
from kbetavae.model.inference import FORMULATIONS, FastEncoder
from kbetavae.model.networks import build_encoder
from kbetavae.trained import encoder_choice
from kbetavae.trained.encoder_choice import CACHE_ENV, FORCE_ENV, fastest, time_formulations

# The formulations a machine chooses among (bf16 codes are used by name only).
AUTOMATIC = [name for name, f in FORMULATIONS.items() if f.automatic]


@pytest.fixture
def encoder():
    keras.utils.set_random_seed(0)
    return FastEncoder(build_encoder(4, image_shape=(16, 16, 1), filters=(8, 8)))


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """An empty cache directory and no forced formulation (conftest forces one)."""
    monkeypatch.delenv(FORCE_ENV, raising=False)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def timer_with(seconds: dict[str, float], calls: list | None = None):
    """A timer that says each formulation takes ``seconds[name]`` (and logs the calls)."""

    def timer(encoder: FastEncoder) -> float:
        if calls is not None:
            calls.append(encoder.formulation.name)
        return seconds[encoder.formulation.name]

    return timer


def test_the_fastest_formulation_is_chosen_and_remembered(encoder, cache):
    calls = []
    speeds = {"xla-taps-64": 3.0, "xla-taps-1024": 2.0, "tf-conv-1024": 1.0}
    chosen = fastest(encoder, timer_with(speeds, calls))
    assert chosen.formulation.name == "tf-conv-1024" and chosen.batch_size == 1024
    # Each formulation once to compile, then ROUNDS times in turn.
    assert len(calls) == len(AUTOMATIC) * (1 + encoder_choice.ROUNDS)
    assert "tf-conv-1024-bf16" not in calls
    (record,) = [json.loads(p.read_text()) for p in cache.glob("encoder-*.json")]
    assert record["formulation"] == "tf-conv-1024" and record["seconds"] == speeds
    assert record["key"]["architecture"] == repr(encoder.architecture)

    # A later process reads the file: no timing, the same choice even if speeds changed.
    def never(_):
        raise AssertionError("timed again")

    assert fastest(encoder, never).formulation.name == "tf-conv-1024"


def test_another_architecture_is_timed_on_its_own(encoder, cache):
    fastest(encoder, timer_with({"xla-taps-64": 1.0, "xla-taps-1024": 2.0, "tf-conv-1024": 3.0}))
    other = FastEncoder(build_encoder(4, image_shape=(16, 16, 1), filters=(8, 8, 8)))
    speeds = {"xla-taps-64": 3.0, "xla-taps-1024": 1.0, "tf-conv-1024": 2.0}
    assert fastest(other, timer_with(speeds)).formulation.name == "xla-taps-1024"
    assert len(list(cache.glob("encoder-*.json"))) == 2


def test_a_forced_formulation_is_used_without_timing(encoder, cache, monkeypatch):
    monkeypatch.setenv(FORCE_ENV, "xla-taps-1024")

    def never(_):
        raise AssertionError("timed although forced")

    assert fastest(encoder, never).formulation.name == "xla-taps-1024"
    assert not cache.exists()


def test_an_unknown_forced_formulation_is_one_input_error_naming_the_variable(
    encoder, cache, monkeypatch
):
    monkeypatch.setenv(FORCE_ENV, "fastest-please")
    with pytest.raises(InputError, match=r"^KBETAVAE_ENCODER: unknown encoder formulation"):
        fastest(encoder)


def test_an_unreadable_remembered_choice_is_timed_again_and_replaced(encoder, cache):
    fastest(encoder, timer_with({"xla-taps-64": 1.0, "xla-taps-1024": 2.0, "tf-conv-1024": 3.0}))
    (path,) = cache.glob("encoder-*.json")
    path.write_text('{"formulation": "gone-formulation"}')
    speeds = {"xla-taps-64": 3.0, "xla-taps-1024": 2.0, "tf-conv-1024": 1.0}
    assert fastest(encoder, timer_with(speeds)).formulation.name == "tf-conv-1024"
    assert json.loads(path.read_text())["formulation"] == "tf-conv-1024"


def test_an_unwritable_cache_still_gives_the_timed_choice(encoder, cache, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))
    speeds = {"xla-taps-64": 2.0, "xla-taps-1024": 1.0, "tf-conv-1024": 3.0}
    assert fastest(encoder, timer_with(speeds)).formulation.name == "xla-taps-1024"


def test_processes_timing_at_once_all_adopt_the_first_choice_kept(encoder, cache):
    # Eight timers disagree (each thinks another formulation wins); whoever links the file
    # first decides, and every caller ends with that one formulation.
    names = AUTOMATIC
    start = threading.Barrier(8)
    chosen = []

    def run(k: int) -> None:
        speeds = {name: 1.0 + (i - k) % len(names) for i, name in enumerate(names)}
        start.wait()
        chosen.append(fastest(encoder, timer_with(speeds)).formulation.name)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (path,) = cache.glob("encoder-*.json")
    assert chosen == [json.loads(path.read_text())["formulation"]] * 8
    assert not list(cache.glob(".encoder-*"))  # no temporary file left behind


def test_timing_really_runs_every_formulation(encoder, monkeypatch):
    monkeypatch.setattr(encoder_choice, "IMAGES", 64)
    seconds = time_formulations(encoder)
    assert set(seconds) == set(AUTOMATIC) and all(s > 0 for s in seconds.values())


def test_a_run_record_names_the_formulation_that_gave_its_codes(monkeypatch):
    from kbetavae import BetaVAE
    from kbetavae.data import open_source
    from kbetavae.metrics.protocol import Protocol
    from kbetavae.study.evaluation import evaluate_encoders
    from kbetavae.trained.load import graph_encoder

    monkeypatch.setenv(FORCE_ENV, "tf-conv-1024")
    model = BetaVAE(seed=0)
    model(np.zeros((1, 64, 64, 1), np.float32))
    (record,) = evaluate_encoders(
        [(graph_encoder(model), None)], open_source("replica"), ["mig"], Protocol.scaled(100), 0
    )
    assert record["timing"]["encoder_formulation"] == "tf-conv-1024"
