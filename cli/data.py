"""``kbetavae data``: look at, summarise and export a dSprites source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

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
) -> None:
    """Write a PNG grid of random images labelled with their factors."""
    from kbetavae.viz.figures import figure_format, save_figure
    from kbetavae.viz.samples import sample_grid

    figure_format(out, "out")
    data = open_source(source)
    factors, images = data.sample(n, rng=seed)
    save_figure(sample_grid(images, factors), out)
    typer.echo(f"wrote {out}")


@app.command()
@user_errors
def stats(
    source: str = SourceOption,
    sample: int = typer.Option(
        0, "--sample", min=0, help="mean pixel over this many random images (0 = the whole grid)"
    ),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Print factor sizes, image count and the mean pixel value."""
    from cli.progress import chunked
    from kbetavae.data.ground_truth import load_images

    data = open_source(source)
    typer.echo(f"images: {data.num_images}")
    for name, size in zip(data.factor_names, data.factor_sizes, strict=True):
        typer.echo(f"  {name:<12} {size} classes")
    if sample:
        indices = np.random.default_rng(seed).choice(data.num_images, sample, replace=False)
    else:
        indices = np.arange(data.num_images)
    total = 0
    for start in chunked("reading", indices.size, 65_536):
        total += int(load_images(data, indices[start : start + 65_536]).sum(dtype=np.int64))
    mean = total / (indices.size * int(np.prod(data.image_shape)))
    typer.echo(f"mean pixel: {mean:.6f} over {count(indices.size, 'image')}")


@app.command("export")
@user_errors
def export_npz(
    path: Path = typer.Argument(..., help="output .npz (official dSprites layout)"),
) -> None:
    """Render the whole replica into an official-layout .npz file."""
    from cli.progress import chunked
    from kbetavae.data.factors import NUM_IMAGES, factors_of
    from kbetavae.data.files import save_npz
    from kbetavae.data.ground_truth import load_images
    from kbetavae.data.replica import ReplicaData

    # Rendering takes over a minute: every way the write could fail is checked first.
    if path.is_dir():
        raise InputError(f"PATH {path} is a directory; give the .npz file to write")
    if path.suffix != ".npz":
        raise InputError(f"PATH must end in .npz, got {path}")
    check_writable(str(path.parent), "PATH's directory")
    indices = np.arange(NUM_IMAGES)
    images = np.empty((NUM_IMAGES, 64, 64, 1), np.uint8)
    replica = ReplicaData()
    for start in chunked("rendering", NUM_IMAGES, 16_384):
        images[start : start + 16_384] = load_images(replica, indices[start : start + 16_384])
    typer.echo("compressing and writing ...", err=True)
    save_npz(path, factors_of(indices), images)
    typer.echo(f"wrote {path}")
