"""Random-resized crops: stateless draws, torchvision's box rule, the same box in TensorFlow."""

import math

import numpy as np
import tensorflow as tf

from datadiet.data import resized_crop


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


def test_the_tensorflow_box_is_the_reference_box():
  rng = np.random.default_rng(1)
  for _ in range(200):
    height, width = (int(v) for v in rng.integers(8, 500, size=2))
    attempts = rng.random((10, 4))
    if rng.random() < 0.2:  # Some that cannot fit, for the fallback.
      attempts[:, 0] = 0.999
    got = tuple(int(v) for v in resized_crop.box_tf(tf, tf.constant(height),
                                                    tf.constant(width),
                                                    tf.constant(attempts)))
    assert got == resized_crop.box(height, width, attempts), (height, width)


def test_crop_resize_flip_gives_the_training_size():
  image = tf.constant(np.tile(np.arange(40, dtype=np.uint8)[None, :, None], (30, 1, 3)))
  draws = resized_crop.draw(0, 0, 0, 1)
  out = resized_crop.crop_resize_flip_tf(tf, image, tf.constant(draws['attempts'][0]),
                                         tf.constant(True), 16).numpy()
  assert out.shape == (16, 16, 3) and out.dtype == np.uint8
  assert (np.diff(out[0, :, 0].astype(int)) <= 0).all()  # A left-to-right ramp, flipped.
