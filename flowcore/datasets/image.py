r"""Images and drawings as 2-D densities: darker pixels (heavier cells) are more likely.

The density is constant within a pixel, so ``log_density`` and ``entropy`` are exact.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np

from flowcore.config import check_range
from flowcore.datasets.base import Dataset, check_points, read_source

# PIL is imported where it is used: importing flowcore stays fast.

MAX_IMAGE_PIXELS = 40_000_000  # checked before decoding: a decompression bomb is refused
IMAGE_MAX_SIDE = 128  # photos are downsampled so that their longer side has this many pixels
IMAGE_HALF_WIDTH = 4.0  # the image's longer side spans [-4, 4]
_IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")  # only these decoders ever run


class ImageDensity(Dataset):
    r"""A 2-D density proportional to the darkness of an image's pixels.

    The longer side of the image spans ``[-4, 4]``, ``y`` points up. Within a pixel the density is
    constant, so ``log_density`` and ``entropy`` are exact. Build one with :func:`from_image`.
    """

    dim = 2
    can_sample_fresh = True  # the density is known exactly: new points can always be drawn

    def __init__(self, darkness: np.ndarray, name: str, params: dict[str, Any], notice: str | None):
        height, width = darkness.shape
        pixel = 2 * IMAGE_HALF_WIDTH / max(height, width)
        # Edges are float32 numbers, so float32 samples fall in the pixel they were drawn in.
        self._x_edges = ((np.arange(width + 1) - width / 2) * pixel).astype(np.float32)
        self._y_edges = ((np.arange(height + 1) - height / 2) * pixel).astype(np.float32)
        self._mass = darkness[::-1] / darkness.sum()  # image rows go down, y goes up
        area = np.outer(np.diff(self._y_edges.astype(np.float64)),
                        np.diff(self._x_edges.astype(np.float64)))
        with np.errstate(divide="ignore"):
            self._log_pixel_density = np.log(self._mass) - np.log(area)
        positive = self._mass > 0
        self._entropy = float(-(self._mass[positive] * self._log_pixel_density[positive]).sum())
        self.name, self.params, self.notice = name, params, notice
        self.description = (f"An image as a density: darker pixels are more likely "
                            f"({width}x{height} pixels).")

    def _draw(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        height, width = self._mass.shape
        flat = rng.choice(height * width, size=n, p=self._mass.ravel())
        row, col = np.divmod(flat, width)
        points = []
        for edges, index in ((self._x_edges, col), (self._y_edges, row)):
            lo, hi = edges[index], edges[index + 1]
            coord = (lo + rng.random(n) * (hi.astype(np.float64) - lo)).astype(np.float32)
            points.append(np.clip(coord, lo, np.nextafter(hi, np.float32(-np.inf))))
        return np.stack(points, axis=1)

    def log_density(self, x: np.ndarray) -> np.ndarray:
        x = check_points(x, 2)
        height, width = self._mass.shape
        col = np.searchsorted(self._x_edges, x[:, 0], side="right") - 1
        row = np.searchsorted(self._y_edges, x[:, 1], side="right") - 1
        inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
        out = np.full(len(x), -np.inf)
        out[inside] = self._log_pixel_density[row[inside], col[inside]]
        return out

    def entropy(self) -> float:
        return self._entropy

    def entropy_se(self) -> float:
        return 0.0


def from_image(data: bytes | Any, max_side: int = IMAGE_MAX_SIDE,
               name: str = "image") -> ImageDensity:
    r"""A 2-D density proportional to the darkness of a PNG or JPEG (``1 - luminance / 255``).

    Transparent pixels count as white. Images larger than ``max_side`` pixels on a side are
    downsampled (averaging); the photo's EXIF orientation is applied.

    Raises:
        ValueError: for bytes that are not an image, an image with more than ``MAX_IMAGE_PIXELS``
            pixels (checked before decoding), damaged data, or an image without dark pixels.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> buffer = io.BytesIO()
        >>> Image.new("L", (20, 10), color=0).save(buffer, format="PNG")
        >>> round(from_image(buffer.getvalue()).entropy(), 3)  # uniform on 8 x 4
        3.466
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    max_side = check_range("max_side", max_side, 8, 1024, whole=True)
    raw, _ = read_source(data)
    if isinstance(raw, str) or not raw:
        raise ValueError("expected the bytes of a PNG or JPEG image, got text or nothing")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=_IMAGE_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"the image has more than {MAX_IMAGE_PIXELS:,} pixels") from None
    except UnidentifiedImageError:
        raise ValueError("the data is not an image this app can read (use a PNG or JPEG)") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(f"the image is {width}x{height} = {width * height:,} pixels, more than "
                         f"the {MAX_IMAGE_PIXELS:,} allowed; resize it first")
    try:
        image.draft("RGB", (max_side, max_side))  # JPEG decodes straight at a reduced scale
        gray = _luminance(ImageOps.exif_transpose(image))
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"the image data is damaged or truncated ({error})") from None

    notice = None
    if max(gray.size) > max_side:
        scale = max_side / max(gray.size)
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        notice = (f"The image is {width}x{height} pixels; it was downsampled to "
                  f"{size[0]}x{size[1]}.")
        gray = gray.resize(size, Image.Resampling.BOX)  # BOX averages: darkness is conserved
    darkness = 1.0 - np.asarray(gray, dtype=np.float64) / 255.0
    if darkness.max() < 2 / 255:
        raise ValueError("the image has no dark pixels: it is blank (white or transparent). "
                         "Draw in a dark colour on a light background.")
    params = {"width": gray.width, "height": gray.height, "max_side": max_side}
    return ImageDensity(darkness, name, params, notice)


def from_grid(weights: Any, name: str = "drawing") -> ImageDensity:
    r"""A 2-D density proportional to non-negative ``weights`` on a grid of cells.

    The grid is laid out like an image (row 0 at the top) whose longer side spans ``[-4, 4]``; the
    density is constant within a cell, so it is known exactly. The dashboard's drawing canvas
    makes its dataset this way, from the cells a user marked.

    Raises:
        ValueError: for a grid that is not 2-D, larger than 1024 cells on a side, holds a
            negative or non-finite weight, or marks no cell at all.

    Example:
        >>> round(from_grid(np.ones((2, 2))).entropy(), 3)  # uniform on [-4, 4]²: log 64
        4.159
    """
    grid = np.asarray(weights, dtype=np.float64)
    if grid.ndim != 2 or min(grid.shape) < 1 or max(grid.shape) > 1024:
        raise ValueError(f"expected a 2-D grid of at most 1024x1024 cells, got shape {grid.shape}")
    if not np.isfinite(grid).all() or (grid < 0).any():
        raise ValueError("every weight must be a finite number >= 0")
    if not (grid > 0).any():
        raise ValueError("nothing is drawn: mark at least one cell")
    params = {"width": grid.shape[1], "height": grid.shape[0]}
    density = ImageDensity(grid, name, params, notice=None)
    density.description = (f"Your drawing: {int((grid > 0).sum())} cells of a "
                           f"{grid.shape[1]}x{grid.shape[0]} grid, each as likely as its weight.")
    return density


def _luminance(image: Any) -> Any:
    r"""The image in grey levels from 0 (black) to 255 (white), as a PIL image."""
    from PIL import Image

    if image.mode.startswith("I"):  # 16-bit greyscale: 0 to 65535
        return Image.fromarray(np.asarray(image, dtype=np.float32) * np.float32(255 / 65535))
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent means white: composite onto white before taking the luminance.
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return image.convert("L")

