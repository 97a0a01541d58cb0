"""Image grids as PNG files (no TensorFlow): the trainer's sample grids and the
human evaluation's grid of the samples most often taken for real."""

from __future__ import annotations

import io
import math
import pathlib

import numpy as np

from improved_gan_tf.fileio import atomic_write_bytes


def image_grid(images: np.ndarray, columns: int = 10, border: int = 2, min_cell: int = 56) -> np.ndarray:
    """Tiles uint8 `[N, H, W, C]` into one image with white borders, upscaled (nearest
    neighbour) so that each cell is at least `min_cell` pixels wide."""
    n, h, w, c = images.shape
    scale = max(1, math.ceil(min_cell / w))
    images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    h, w = h * scale, w * scale
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + border) + border, columns * (w + border) + border, c), 255, np.uint8)
    for index in range(n):
        r, col = divmod(index, columns)
        top, left = border + r * (h + border), border + col * (w + border)
        grid[top : top + h, left : left + w] = images[index]
    return grid


def save_png(path, image: np.ndarray) -> None:
    """Writes a uint8 `[H, W, C]` image as PNG, atomically."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format="PNG")
    atomic_write_bytes(pathlib.Path(path), buffer.getvalue())
