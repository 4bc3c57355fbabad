import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from kbetavae.data import open_source

runner = CliRunner()


def test_data_show_writes_a_png(tmp_path):
    out = tmp_path / "grid.png"
    result = runner.invoke(app, ["data", "show", "--out", str(out), "--n", "8"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5_000


def test_data_stats_prints_counts_and_mean_pixel():
    result = runner.invoke(app, ["data", "stats", "--sample", "2000"])
    assert result.exit_code == 0, result.output
    assert "images: 737280" in result.output and "orientation  40 classes" in result.output
    mean = float(result.output.split("mean pixel: ")[1].split()[0])
    assert abs(mean - 0.0425) < 0.003  # a 2,000-image sample of a 0.042494 mean


def test_unknown_source_is_one_line_and_exit_2():
    result = runner.invoke(app, ["data", "stats", "--source", "mnist"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "unknown source 'mnist'" in result.output


def test_data_export_writes_the_official_layout(tmp_path, monkeypatch):
    # Exporting all 737,280 images takes a minute; shrink the grid for the test.
    import kbetavae.data.factors as grid

    monkeypatch.setattr(grid, "NUM_IMAGES", 64)
    path = tmp_path / "replica.npz"
    result = runner.invoke(app, ["data", "export", str(path)])
    assert result.exit_code == 0, result.output
    with np.load(path) as archive:
        assert archive["imgs"].shape == (64, 64, 64)
        assert archive["latents_classes"][:, 0].max() == 0  # the colour column


def test_data_show_of_a_variant_writes_a_colour_picture(tmp_path):
    from PIL import Image

    out = tmp_path / "noisy.png"
    result = runner.invoke(
        app, ["data", "show", "--data", "noisy-dsprites", "--out", str(out), "--n", "8"]
    )
    assert result.exit_code == 0, result.output
    pixels = np.asarray(Image.open(out).convert("RGB")).astype(int)
    spread = pixels.max(axis=2) - pixels.min(axis=2)  # 0 wherever a pixel is grey
    assert (spread > 40).mean() > 0.05


def test_data_stats_of_a_variant_names_its_shape():
    result = runner.invoke(app, ["data", "stats", "--data", "color-dsprites", "--sample", "200"])
    assert result.exit_code == 0, result.output
    assert "images: 737280 of shape (64, 64, 3)" in result.output
    mean = float(result.output.split("mean pixel: ")[1].split()[0])
    assert 0.02 < mean < 0.04  # the binary mean 0.0425 times a colour in [0.5, 1]


def test_data_export_of_a_variant_writes_its_fixed_observations(tmp_path):
    from kbetavae.data import factors as grid

    path = tmp_path / "color.npz"
    command = ["data", "export", str(path), "--data", "color-dsprites", "--every", "4096"]
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    assert f"wrote {path} (180 images)" in result.output
    indices = np.arange(0, grid.NUM_IMAGES, 4096)
    with np.load(path) as archive:
        images, classes = archive["imgs"], archive["latents_classes"]
    assert images.dtype == np.float32 and images.shape == (180, 64, 64, 3)
    np.testing.assert_array_equal(images, open_source("color-dsprites").images_at(indices))
    np.testing.assert_array_equal(classes[:, 1:], grid.factors_of(indices))
    # It opens through the file source as those observations.
    out = tmp_path / "color.png"
    result = runner.invoke(app, ["data", "show", "--source", str(path), "--out", str(out)])
    assert result.exit_code == 0 and out.exists(), result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--every", "0"], "--every"),
        (["--data", "mnist"], "data must be one of dsprites, color-dsprites"),
        (["--data", "color-dsprites", "--painting", "p.png"], "painting applies to scream"),
    ],
)
def test_data_export_bad_input_is_one_line_and_exit_2(tmp_path, capsys, arguments, message):
    from cli.main import run  # what `kbetavae` runs: Typer's own errors in one line too

    assert run(["data", "export", str(tmp_path / "c.npz"), *arguments]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kbetavae: error: ") and err.strip().count("\n") == 0, err
    assert message in err
    assert list(tmp_path.iterdir()) == []
