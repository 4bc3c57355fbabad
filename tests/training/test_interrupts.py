"""Ctrl-C during a model write is delivered after the write, never inside it."""

from __future__ import annotations

import signal
import threading

import pytest

from kbetavae.training.interrupts import deferred_interrupt


@pytest.fixture
def python_handler():
    """SIGINT as in a terminal (pytest-xdist workers inherit it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_an_interrupt_inside_the_block_is_raised_after_it(python_handler):
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupt():
            signal.raise_signal(signal.SIGINT)
            steps.append("write finished")
    assert steps == ["write finished"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_an_interrupt_nothing_is_raised(python_handler):
    with deferred_interrupt():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interrupt_wins_over_the_blocks_own_error(python_handler):
    with pytest.raises(KeyboardInterrupt) as caught:
        with deferred_interrupt():
            signal.raise_signal(signal.SIGINT)
            raise OSError("disk full")
    assert isinstance(caught.value.__context__, OSError)


def test_outside_the_main_thread_it_changes_no_handler(python_handler):
    seen = []

    def work():
        with deferred_interrupt():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


def test_an_ignored_sigint_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with deferred_interrupt():
            signal.raise_signal(signal.SIGINT)  # ignored: nothing to deliver
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_handler_left_to_the_operating_system_is_left_alone():
    previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        with deferred_interrupt():
            inside = signal.getsignal(signal.SIGINT)
        assert inside is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGINT, previous)
