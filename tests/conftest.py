"""Shared test set-up: quiet TensorFlow, CPU only, and a tiny replica source."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Tests never touch the network: the dSprites download host is always 'unreachable'."""
    from kbetavae.data import tfds_source

    monkeypatch.setattr(tfds_source, "host_reachable", lambda *args, **kwargs: False)
