"""Progress of an evaluation: images encoded so far against the images it will encode."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kbetavae import faults

Progress = Callable[[int, int], None]


class EncodeCounter:
    """Counts images through the encoder and reports ``progress(done, expected)``."""

    def __init__(self, expected: int, progress: Progress):
        self.expected, self.done, self.progress = expected, 0, progress

    def wrap(self, encode_fn: Callable) -> Callable:
        def encode(images: np.ndarray):
            output = encode_fn(images)
            self.done += len(images)
            self.progress(self.done, max(self.expected, self.done))
            faults.checkpoint("evaluate")
            return output

        # A fast encoder that casts uint8 itself keeps getting uint8 (4x less data).
        encode.accepts_uint8 = getattr(encode_fn, "accepts_uint8", False)
        return encode

    def finish(self) -> None:
        self.progress(self.done, self.done)


def expected_encodes(draws: int, num_images: int, code_table: str) -> int:
    """Images an evaluation will encode: every draw without a code table, the whole grid
    with ``"grid"``, and with ``"lazy"`` the expected number of distinct images among
    ``draws`` uniform draws, N(1 - (1 - 1/N)^draws) (the draws are near uniform: for the
    full protocol this gives 683,6xx for the 683,650 measured)."""
    if code_table == "none":
        return draws
    if code_table == "grid":
        return num_images
    return min(draws, round(num_images * -np.expm1(draws * np.log1p(-1.0 / num_images))))
