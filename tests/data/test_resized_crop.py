"""Random-resized crops: stateless draws, torchvision's box rule, crop-resize-flip."""

import math

import numpy as np

from datadiet.data import image_ops, resized_crop


def test_draws_are_a_pure_function_of_the_seeds_and_step():
  one = resized_crop.draw(0, 3, 17, 8)
  again = resized_crop.draw(0, 3, 17, 8)
  other = resized_crop.draw(0, 3, 18, 8)
  np.testing.assert_array_equal(one['attempts'], again['attempts'])
  assert one['attempts'].shape == (8, 10, 4) and one['flip'].shape == (8,)
  assert not np.array_equal(one['attempts'], other['attempts'])


def test_boxes_follow_the_area_and_ratio_rule_and_fit():
  rng = np.random.default_rng(0)
  for _ in range(300):
    height, width = rng.integers(8, 600, size=2)
    attempts = rng.random((10, 4))
    top, left, h, w = resized_crop.box(int(height), int(width), attempts)
    assert 0 <= top and top + h <= height and 0 <= left and left + w <= width and h > 0 < w
  # The first candidate that fits is taken: area and ratio from its uniforms.
  attempts = np.array([[0.5, 0.5, 0.0, 0.9999]] + [[0.9] * 4] * 9)
  top, left, h, w = resized_crop.box(100, 100, attempts)
  area = 100 * 100 * (0.08 + 0.5 * 0.92)
  assert (h, w) == (round(math.sqrt(area)), round(math.sqrt(area)))  # Ratio exp(0) = 1.
  assert top == 0 and left == 100 - w  # top_u = 0, left_u → the last position.


def test_no_fitting_candidate_falls_back_to_a_centre_crop_of_clamped_ratio():
  never_fits = np.tile([[0.999, 1.0 - 1e-9, 0.5, 0.5]], (10, 1))  # Whole area at ratio 4/3...
  # ...does not fit a tall 300×100 image: the centre crop keeps the width and a 3/4 ratio.
  assert resized_crop.box(300, 100, never_fits) == ((300 - 133) // 2, 0, 133, 100)


def test_crop_resize_flip_resizes_the_box_and_mirrors_it():
  rng = np.random.default_rng(1)
  image = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
  for attempts in (rng.random((10, 4)), np.tile([[0.999, 1.0 - 1e-9, 0.5, 0.5]], (10, 1))):
    top, left, h, w = resized_crop.box(30, 40, attempts)
    kept = resized_crop.crop_resize_flip(image, attempts, False, 16)
    np.testing.assert_array_equal(
        kept, image_ops.resize(image[top:top + h, left:left + w], 16, 16))
    flipped = resized_crop.crop_resize_flip(image, attempts, True, 16)
    np.testing.assert_array_equal(flipped, kept[:, ::-1])
    assert flipped.shape == (16, 16, 3) and flipped.dtype == np.uint8
  ramp = np.tile(np.arange(40, dtype=np.uint8)[None, :, None], (30, 1, 3))
  out = resized_crop.crop_resize_flip(ramp, resized_crop.draw(0, 0, 0, 1)['attempts'][0], True,
                                      16)
  assert (np.diff(out[0, :, 0].astype(int)) <= 0).all()  # A left-to-right ramp, flipped.
