"""``kbetavae data``: look at, summarise and export a dSprites source or a variant of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from cli import options
from cli.common import count, user_errors
from kbetavae.data import open_source
from kbetavae.errors import InputError
from kbetavae.io import check_writable

app = typer.Typer(help="Inspect and export dSprites sources.", no_args_is_help=True)

SourceOption = typer.Option("replica", "--source", help="replica, dsprites, or a .npz/.hdf5 path")


@app.command()
@user_errors
def show(
    out: Path = typer.Option(
        Path("dsprites_samples.png"), "--out", help="image to write (.png, .pdf, .svg …)"
    ),
    n: int = typer.Option(32, "--n", min=1, max=256, help="how many images"),
    seed: int = typer.Option(0, "--seed"),
    source: str = SourceOption,
    data: options.Data = options.DEFAULTS.data,
    painting: options.Painting = None,
) -> None:
    """Write a PNG grid of random images (observations, for a variant) labelled with their
    factors."""
    from kbetavae.viz.figures import figure_format, save_figure
    from kbetavae.viz.samples import sample_grid

    figure_format(out, "out")
    ground_truth = open_source(source, data=data, painting=painting)
    factors, images = ground_truth.sample(n, rng=seed)
    save_figure(sample_grid(images, factors, name=data), out)
    typer.echo(f"wrote {out}")


@app.command()
@user_errors
def stats(
    source: str = SourceOption,
    data: options.Data = options.DEFAULTS.data,
    painting: options.Painting = None,
    sample: int = typer.Option(
        0, "--sample", min=0, help="mean pixel over this many random images (0 = the whole grid)"
    ),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Print factor sizes, image count, image shape and the mean pixel value."""
    from cli.progress import chunked
    from kbetavae.data.ground_truth import load_images

    data = open_source(source, data=data, painting=painting)
    typer.echo(f"images: {data.num_images} of shape {data.image_shape}")
    for name, size in zip(data.factor_names, data.factor_sizes, strict=True):
        typer.echo(f"  {name:<12} {size} classes")
    if sample:
        indices = np.random.default_rng(seed).choice(data.num_images, sample, replace=False)
    else:
        indices = np.arange(data.num_images)
    total = 0.0
    for start in chunked("reading", indices.size, 65_536):
        total += float(load_images(data, indices[start : start + 65_536]).sum(dtype=np.float64))
    mean = total / (indices.size * int(np.prod(data.image_shape)))
    typer.echo(f"mean pixel: {mean:.6f} over {count(indices.size, 'image')}")


@app.command("export")
@user_errors
def export_npz(
    path: Path = typer.Argument(..., help="output .npz (official dSprites layout)"),
    data: options.Data = options.DEFAULTS.data,
    painting: options.Painting = None,
    every: int = typer.Option(
        1,
        "--every",
        min=1,
        help="keep every N-th image of the grid, as the tfds builder's every_64 configs do "
        "(1 = all 737,280; a variant's whole grid is 36 GB of float32 before compression)",
    ),
) -> None:
    """Render the replica into an official-layout .npz file: binary uint8 (N, 64, 64), or
    for a variant each image's fixed observation (as the tfds builder's configs hold them),
    float32 (N, 64, 64, 3) because its values are not multiples of 1/255. The file opens
    with --source PATH as those images (to look at, or as a fixed dataset outside kbetavae);
    a variant's export is not a base for --data and not a source to train on."""
    from cli.progress import chunked
    from kbetavae.data import factors as grid
    from kbetavae.data.files import export_npz

    # Rendering takes minutes: every way the write could fail is checked first.
    if path.is_dir():
        raise InputError(f"PATH {path} is a directory; give the .npz file to write")
    if path.suffix != ".npz":
        raise InputError(f"PATH must end in .npz, got {path}")
    check_writable(str(path.parent), "PATH's directory")
    source = open_source("replica", data=data, painting=painting)
    indices = np.arange(0, grid.NUM_IMAGES, every)
    export_npz(path, source, indices, lambda total, chunk: chunked("rendering", total, chunk))
    typer.echo(f"wrote {path} ({count(indices.size, 'image')})")
