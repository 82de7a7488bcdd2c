"""The paper's augmentation: reflect padding, crops at offsets 0..8, flips half the time; the
JAX, TensorFlow and NumPy appliers agree exactly."""

import jax
import numpy as np

from datadiet.data import augment


def _images(count=6, size=8):
  return np.random.default_rng(0).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def test_draws_cover_every_offset_and_flip_half_the_time():
  offsets, flips = zip(*(augment.draw(0, seed, step, 128) for seed in range(4)
                         for step in range(20)))
  offsets, flips = np.concatenate(offsets), np.concatenate(flips)
  assert offsets.min() == 0 and offsets.max() == 8
  counts = np.bincount(offsets.ravel(), minlength=9) / offsets.size
  np.testing.assert_allclose(counts, 1 / 9, atol=0.01)  # 20,480 draws: uniform over 0..8.
  assert abs(flips.mean() - 0.5) < 0.02
  assert not np.array_equal(augment.draw(0, 0, 1, 8)[0], augment.draw(0, 0, 2, 8)[0])


def test_padding_reflects_without_repeating_the_edge():
  # One row 0..7: reflect padding puts 4 3 2 1 before it (symmetric would put 3 2 1 0).
  image = np.tile(np.arange(8, dtype=np.uint8)[None, :, None], (8, 1, 1))
  out = augment.crop_and_flip_numpy(image[None], np.array([[4, 0]]), np.array([False]))
  np.testing.assert_array_equal(out[0, 0, :, 0], [4, 3, 2, 1, 0, 1, 2, 3])
  jax_out = augment.crop_and_flip(image[None], np.array([[4, 0]]), np.array([False]))
  np.testing.assert_array_equal(jax_out, out)
  flipped = augment.crop_and_flip(image[None], np.array([[4, 4]]), np.array([True]))
  np.testing.assert_array_equal(flipped[0, 0, :, 0], np.arange(8)[::-1])  # Centre crop, flipped.


def test_jax_matches_the_plain_loop_under_jit():
  images = _images()
  offsets, flips = augment.draw(0, 0, 0, len(images))
  expected = augment.crop_and_flip_numpy(images, offsets, flips)
  np.testing.assert_array_equal(augment.crop_and_flip(images, offsets, flips), expected)
  np.testing.assert_array_equal(jax.jit(augment.crop_and_flip)(images, offsets, flips), expected)


def test_tensorflow_matches_the_plain_loop():
  from datadiet.data import tf_stream
  images = _images(32)
  offsets, flips = augment.draw(1, 2, 3, len(images))
  np.testing.assert_array_equal(tf_stream._crop_and_flip(images, offsets, flips).numpy(),  # pylint: disable=protected-access
                                augment.crop_and_flip_numpy(images, offsets, flips))
