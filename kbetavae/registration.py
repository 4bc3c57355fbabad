"""Register kbetavae's Keras classes whenever Keras is loaded, without importing it ourselves.

``import kbetavae`` must stay free of TensorFlow (the numpy-only metrics and data tools
start in a second), yet ``keras.models.load_model("beta4.keras")`` must find ``BetaVAE``:
Keras 3 resolves a custom class only from its registry, so the module defining the class
has to have run. If Keras is already imported, that module is imported at once; otherwise
a one-shot import hook imports it right after ``keras`` finishes loading.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

# The modules whose import registers kbetavae's serialisable Keras classes.
# tests/test_package.py checks that every module with a registered class is listed.
_KERAS_MODULES = ("kbetavae.model.vae", "kbetavae.model.objectives", "kbetavae.model.fused")


def register_keras_classes() -> None:
    """Import the modules that define kbetavae's Keras classes (imports Keras/TF)."""
    for name in _KERAS_MODULES:
        importlib.import_module(name)


class _AfterKerasLoads(importlib.abc.MetaPathFinder):
    """Finds nothing itself: it wraps the loader of ``keras`` so registration follows it."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "keras":
            return None
        # One shot: leave the import system as it was before asking the other finders.
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module) -> None:
            load(module)
            try:
                register_keras_classes()
            except ImportError:  # e.g. a Keras backend without TensorFlow: nothing to register
                pass

        spec.loader.exec_module = exec_module
        return spec


def register_when_keras_loads() -> None:
    """Make kbetavae's Keras classes loadable once Keras is imported (now, if it is)."""
    keras = sys.modules.get("keras")
    if keras is not None and getattr(keras, "saving", None) is not None:
        register_keras_classes()
    elif not any(isinstance(finder, _AfterKerasLoads) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasLoads())
