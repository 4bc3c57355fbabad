"""Traversals of any one model (run directory, ``.keras`` file or SavedModel), as
``kbetavae traverse`` draws them: titled by the run, rows labelled with the KL that
``metrics.json`` records (:mod:`kbetavae.metrics.latent_kl`)."""

from __future__ import annotations

import dataclasses
import os
import re

import numpy as np

from kbetavae import io as kio
from kbetavae.errors import InputError
from kbetavae.metrics.latent_kl import kl_caption, sample_kl
from kbetavae.metrics.protocol import FULL_POINTS
from kbetavae.metrics.traversal_motion import FIGURE_LIMIT, FIGURE_STEPS
from kbetavae.training.rundir import config_of_model, data_choice

DEFAULT_KL_POINTS = FULL_POINTS  # the evaluation protocol's sample


@dataclasses.dataclass(frozen=True)
class ModelTraversal:
    """What :func:`render_model_traversal` wrote and the numbers on its row labels."""

    png: str
    gif: str
    title: str
    kl: np.ndarray | None  # per latent; None for an encoder without log-variances
    kl_caption: str


def model_title(model_path: str) -> str:
    """What a model is called in a title: its run, not a SavedModel's version directory.

    ``saved_models/study/beta=4_seed=0/1`` -> ``beta=4_seed=0 (SavedModel version 1)``;
    ``runs/study/beta=4_seed=0/model.keras`` -> ``beta=4_seed=0``.
    """
    path = model_path.rstrip("/")
    name = os.path.basename(path)
    if name.endswith(".keras"):
        parent = os.path.basename(os.path.dirname(path))
        return parent if name == "model.keras" and parent else name
    if re.fullmatch(r"\d+", name) and os.path.basename(os.path.dirname(path)):
        return f"{os.path.basename(os.path.dirname(path))} (SavedModel version {name})"
    return name


def render_model_traversal(
    model_path: str,
    out: str,
    *,
    source: str | None = None,
    data: str | None = None,
    painting: str | None = None,
    image_index: int | None = None,
    limit: float = FIGURE_LIMIT,
    steps: int = FIGURE_STEPS,
    kl_points: int = DEFAULT_KL_POINTS,
    seed: int | None = None,
) -> ModelTraversal:
    """Write the traversal figure ``out`` (PNG) and an animated GIF beside it.

    Rows are labelled with the mean KL per latent over ``kl_points`` images of the grid
    drawn with ``seed`` (default: the run's training seed, else 0) — the sample
    ``kbetavae evaluate`` draws, so with the same points and seed the labels equal
    ``metrics.json``'s ``kl_per_latent``. ``source``, ``data`` and ``painting`` default
    to the run's (:func:`~kbetavae.training.rundir.data_choice`).
    """
    from kbetavae.data import open_source
    from kbetavae.metrics.traversal_motion import figure_image_index
    from kbetavae.trained.load import load_encoder_decoder, resolve_model
    from kbetavae.viz.figures import figure_format, save_figure
    from kbetavae.viz.traversals import traversal_figure, traversal_gif, traversal_grid

    figure_format(out, "out")  # before the model loads, not after the figure is drawn
    if kl_points < 2:
        raise InputError(f"kl_points must be at least 2, got {kl_points}")
    kio.check_reachable(model_path, "model")
    _, resolved = resolve_model(model_path)
    encode, decode = load_encoder_decoder(resolved)
    if decode is None:
        raise InputError(f"{model_path} has no decode signature, so it cannot be traversed")
    config = config_of_model(resolved)
    source, variant, painting = data_choice(config, source, data, painting)
    data = open_source(source, data=variant, painting=painting)
    if image_index is None:
        image_index = figure_image_index(data)
    if not 0 <= image_index < data.num_images:
        raise InputError(f"image_index must be in [0, {data.num_images}), got {image_index}")
    seed = seed if seed is not None else (config.seed if config else 0)
    image = data.images_at(np.array([image_index])).astype(np.float32)
    mu, _ = encode(image)
    grid, values = traversal_grid(decode, mu[0], limit=limit, steps=steps)
    kl = sample_kl(encode, data, kl_points, seed)
    name, caption = model_title(resolved), kl_caption(kl_points, seed)
    title = f"Latent traversals of {name}, image {image_index}"
    save_figure(traversal_figure(grid, values, kl, title, image[0], kl_caption=caption), out)
    gif = os.path.splitext(out)[0] + ".gif"
    kio.write_bytes_atomic(gif, traversal_gif(grid))
    return ModelTraversal(png=out, gif=gif, title=name, kl=kl, kl_caption=caption)
