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
) -> None:
    """Render the whole replica into an official-layout .npz file."""
    from cli.progress import chunked
    from kbetavae.data.factors import NUM_IMAGES, factors_of
    from kbetavae.data.files import save_npz
    from kbetavae.data.ground_truth import load_images
    from kbetavae.data.replica import ReplicaData
    from kbetavae.data.variants import PLAIN, check_data

    # Rendering takes over a minute: every way the write could fail is checked first.
    if check_data(data) != PLAIN:
        # A variant's images are drawn per observation: its grid is the binary one.
        raise InputError(
            f"data {data} is drawn per observation from the binary grid, which is what "
            f"export writes: export it, then open it with --source PATH --data {data}"
        )
    if path.is_dir():
        raise InputError(f"PATH {path} is a directory; give the .npz file to write")
    if path.suffix != ".npz":
        raise InputError(f"PATH must end in .npz, got {path}")
    check_writable(str(path.parent), "PATH's directory")
    indices = np.arange(NUM_IMAGES)
    replica = ReplicaData()
    images = np.empty((NUM_IMAGES, *replica.image_shape), np.uint8)
    for start in chunked("rendering", NUM_IMAGES, 16_384):
        images[start : start + 16_384] = load_images(replica, indices[start : start + 16_384])
    typer.echo("compressing and writing ...", err=True)
    save_npz(path, factors_of(indices), images)
    typer.echo(f"wrote {path}")
