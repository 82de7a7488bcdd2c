"""Pillow transforms of one decoded image, NumPy in and out: what the stream path (and the
in-memory reading of variable-size data through it) does to each image on its host threads.

Pillow releases the GIL while it decodes and resamples, so a pool of Python threads spreads
these over the host's cores without TensorFlow (see :mod:`datadiet.data.streaming`).

Example::

  image = resize_and_crop(decoded, 224)        # shorter side to 256, central 224 square
"""

from __future__ import annotations

import numpy as np

CROP_FRACTION = 0.875  # 224 / 256, the usual ImageNet evaluation crop.


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
  """uint8 ``(H, W, C)`` (C = 1 or 3) to ``(height, width, C)``: Pillow's bilinear filter,
  antialiased when shrinking (its support widens with the scale)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  grey = image.shape[-1] == 1
  picture = Image.fromarray(image[..., 0] if grey else image)
  out = np.asarray(picture.resize((width, height), Image.Resampling.BILINEAR))
  return out[..., None] if grey else out


def resize_and_crop(image: np.ndarray, image_size: int,
                    crop_fraction: float = CROP_FRACTION) -> np.ndarray:
  """The shorter side to ``image_size / crop_fraction`` (:func:`resize`), then the central
  ``image_size`` square; uint8 ``(image_size, image_size, C)``."""
  height, width = image.shape[:2]
  scale = (image_size / crop_fraction) / min(height, width)
  new_height = max(round(height * scale), image_size)
  new_width = max(round(width * scale), image_size)
  resized = resize(image, new_height, new_width)
  top, left = (new_height - image_size) // 2, (new_width - image_size) // 2
  return resized[top:top + image_size, left:left + image_size]


def as_channels(image: np.ndarray, channels: int) -> np.ndarray:
  """A decoded ``(H, W)`` or ``(H, W, C)`` uint8 image as ``(H, W, channels)``: grey repeated
  to colour, colour to Pillow's luma (ITU-R 601-2) for a grey dataset."""
  if image.ndim == 2:
    image = image[..., None]
  if image.shape[-1] == channels:
    return image
  if channels == 3:
    return np.repeat(image, 3, axis=-1)
  from PIL import Image  # pylint: disable=g-import-not-at-top
  return np.asarray(Image.fromarray(image).convert('L'))[..., None]
