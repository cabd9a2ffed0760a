"""datasets.image: images and drawings as densities known exactly."""

import io
import math

import numpy as np
import pytest
from PIL import Image, ImageDraw
from test_datasets_toys import midpoints

from flowcore import datasets


def image_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


NOISE_PNG = image_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), "u1")))


# --- user data: images ---------------------------------------------------------------------------


def black_square_image(mode: str = "RGB") -> Image.Image:
    r"""40 x 20 pixels, white (or transparent), with a black 10 x 10 square at the top left."""
    background = (0, 0, 0, 0) if mode == "RGBA" else "white"
    image = Image.new(mode, (40, 20), background)
    ImageDraw.Draw(image).rectangle([0, 0, 9, 9], fill="black")
    return image


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_image_density_is_uniform_on_the_dark_pixels(mode):
    ds = datasets.from_image(image_bytes(black_square_image(mode)))
    # The longer side spans [-4, 4]: pixels are 0.2 wide, the square is [-4, -2] x [0, 2] (y up).
    assert ds.dim == 2 and ds.can_sample_fresh and ds.params["width"] == 40
    x = ds.sample(20_000, seed=0)
    assert x.dtype == np.float32
    assert x[:, 0].min() >= -4 and x[:, 0].max() <= -2 and x[:, 1].min() >= 0 and x[:, 1].max() <= 2
    assert np.all(ds.log_density(x) == pytest.approx(-math.log(4.0)))
    assert ds.entropy() == pytest.approx(math.log(4.0)) and ds.entropy_se() == 0.0
    outside = ds.log_density([[1.0, 1.0], [-3.0, -1.0], [-5.0, 1.0]])
    assert np.all(outside == -np.inf)


def test_image_grey_levels_weigh_the_density():
    grey = np.full((10, 20), 255, dtype=np.uint8)
    grey[:, :10] = 0  # black half: darkness 1
    grey[:, 10:] = 153  # grey half: darkness 0.4
    ds = datasets.from_image(image_bytes(Image.fromarray(grey)))
    x = ds.sample(50_000, seed=1)
    assert np.mean(x[:, 0] < 0) == pytest.approx(1 / 1.4, abs=0.01)
    h = 0.05
    p = np.exp(ds.log_density(midpoints((-4.0, 4.0, -2.0, 2.0), h)))
    mass, entropy = p.sum() * h * h, -(p * np.log(p)).sum() * h * h
    assert mass == pytest.approx(1.0) and entropy == pytest.approx(ds.entropy())


def test_large_photo_is_downsampled_with_a_notice():
    photo = Image.new("RGB", (1200, 900), "white")
    ImageDraw.Draw(photo).ellipse([100, 100, 1100, 800], fill=(30, 60, 90))
    ds = datasets.from_image(image_bytes(photo, "JPEG"))
    assert (ds.params["width"], ds.params["height"]) == (128, 96)
    assert "1200x900" in ds.notice and "128x96" in ds.notice
    assert np.isfinite(ds.log_density(ds.sample(1000, seed=0))).all()


@pytest.mark.parametrize(
    "data, words",
    [
        (b"\x89PNG but not really an image at all", ["not an image"]),
        (b"x,y\n1,2\n", ["not an image"]),
        (b"", ["bytes of a PNG or JPEG"]),
        (image_bytes(Image.new("RGB", (30, 30), "white")), ["no dark pixels"]),
        (image_bytes(Image.new("RGBA", (30, 30), (0, 0, 0, 0))), ["no dark pixels"]),
        (image_bytes(Image.new("1", (7000, 7000), 0)), ["49,000,000", "40,000,000"]),
        (NOISE_PNG[: len(NOISE_PNG) // 2], ["damaged or truncated"]),
    ],
)
def test_from_image_rejects_what_it_cannot_use(data, words):
    with pytest.raises(ValueError) as error:
        datasets.from_image(data)
    for word in words:
        assert word in str(error.value)


# --- user data: a drawing ------------------------------------------------------------------------
def test_a_drawn_grid_is_a_density_known_exactly():
    weights = np.zeros((8, 8))
    weights[0, 0] = 1.0  # the top-left cell: [-4, -3] x [3, 4]
    weights[7, 7] = 3.0  # the bottom-right cell, three times as likely: [3, 4] x [-4, -3]
    ds = datasets.from_grid(weights)
    x = ds.sample(40_000, seed=0)
    top_left = (x[:, 0] < -3) & (x[:, 1] > 3)
    bottom_right = (x[:, 0] > 3) & (x[:, 1] < -3)
    assert np.all(top_left | bottom_right)
    assert np.mean(bottom_right) == pytest.approx(0.75, abs=0.01)
    # Each cell has area 1: log p = log(mass), entropy = -sum(m log m).
    assert ds.log_density([[-3.5, 3.5], [3.5, -3.5], [0.0, 0.0]]) == pytest.approx(
        [math.log(0.25), math.log(0.75), -math.inf])
    assert ds.entropy() == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    assert "2 cells" in ds.description


@pytest.mark.parametrize(("weights", "words"), [
    (np.zeros((4, 4)), "nothing is drawn"),
    (np.ones(16), "2-D grid"),
    (np.full((2, 2), -1.0), ">= 0"),
    (np.array([[1.0, np.nan]]), "finite"),
    (np.ones((2000, 2)), "1024"),
])
def test_from_grid_rejects_what_it_cannot_use(weights, words):
    with pytest.raises(ValueError, match=words):
        datasets.from_grid(weights)
