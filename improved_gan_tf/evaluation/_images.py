"""Input checks and value-range handling shared by the scorers."""
from __future__ import annotations

import numpy as np


def to_pixel_range(images, value_range=(0.0, 255.0), name: str = "images") -> np.ndarray:
    """Maps `images` linearly from `value_range` to float32 pixels in [0, 255].

    `value_range=(0, 255)` leaves values as they are (uint8 or float); `(-1, 1)` suits
    a tanh generator, `(0, 1)` a sigmoid one. Values outside the range are clipped
    after the mapping.
    """
    low, high = (float(v) for v in value_range)
    if not high > low:
        raise ValueError(f"value_range must be (low, high) with high > low; got {value_range}")
    x = np.asarray(images)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise TypeError(f"{name} must be an integer or float array; got dtype {x.dtype}")
    x = x.astype(np.float32)
    if (low, high) != (0.0, 255.0):
        x = (x - low) * (255.0 / (high - low))
    return np.clip(x, 0.0, 255.0)
