"""kbetavae: disentangled representation learning with beta-VAEs on dSprites."""

from kbetavae.errors import InputError

__version__ = "0.1.0"

__all__ = ["InputError", "__version__"]
