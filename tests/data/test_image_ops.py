"""Host image transforms: Pillow's antialiased bilinear resize against a plain triangle-filter
reference, the evaluation resize-and-crop, and channel conversion."""

import numpy as np
import pytest

from datadiet.data import image_ops


def _triangle_resize_1d(values: np.ndarray, size: int) -> np.ndarray:
  """Resamples axis 0 of ``values`` (float) to ``size``: a triangle (bilinear) filter whose
  support widens with the scale when shrinking, as antialiased resizing does; plain loops."""
  scale = len(values) / size
  support = max(scale, 1.0)
  out = np.zeros((size, *values.shape[1:]))
  for i in range(size):
    centre = (i + 0.5) * scale
    weights, total = [], 0.0
    for j in range(len(values)):
      weight = max(0.0, 1 - abs(j + 0.5 - centre) / support)
      weights.append(weight)
      total += weight
    for j, weight in enumerate(weights):
      out[i] += weight / total * values[j]
  return out


@pytest.mark.parametrize('shape,target', [((24, 36, 3), (10, 15)), ((9, 7, 1), (20, 13)),
                                          ((17, 17, 3), (17, 5))])
def test_resize_is_an_antialiased_bilinear_filter(shape, target):
  image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
  expected = _triangle_resize_1d(image.astype(float).transpose(1, 0, 2), target[1])
  expected = _triangle_resize_1d(expected.transpose(1, 0, 2), target[0])
  got = image_ops.resize(image, *target)
  assert got.shape == (*target, shape[-1]) and got.dtype == np.uint8
  # Pillow rounds to uint8 between its two passes: within 1 of the exact filter.
  assert np.abs(got.astype(float) - expected).max() <= 1.0


def test_resize_and_crop_keeps_the_centre_of_the_shorter_side_scaled():
  constant = np.full((40, 64, 3), 77, np.uint8)  # Stays constant, whatever the shape.
  assert (image_ops.resize_and_crop(constant, 32) == 77).all()
  # 28×56 → shorter side 32 / 0.875 = 36.57 → 37×73 (56 × 36.57 / 28 = 73.1); the central
  # 32 rows of 37 start at 2, the central 32 columns of 73 at 20.
  image = np.random.default_rng(1).integers(0, 256, (28, 56, 3), dtype=np.uint8)
  resized = image_ops.resize(image, 37, 73)
  np.testing.assert_array_equal(image_ops.resize_and_crop(image, 32), resized[2:34, 20:52])


def test_channels_are_repeated_or_reduced_to_the_datasets():
  grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
  np.testing.assert_array_equal(image_ops.as_channels(grey, 3), np.stack([grey] * 3, -1))
  colour = np.zeros((3, 4, 3), np.uint8)
  colour[..., 0] = 100  # Pure red: luma 0.299 × 100.
  np.testing.assert_array_equal(image_ops.as_channels(colour, 1), np.full((3, 4, 1), 30))
  assert image_ops.as_channels(colour, 3) is colour
