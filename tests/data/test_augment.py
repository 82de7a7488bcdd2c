"""The paper's augmentation: reflect padding, crops at offsets 0..8, flips half the time; the
JAX, TensorFlow and NumPy appliers agree exactly. airbench's translate-by-2, alternating flip and
test-time views."""

import warnings

import jax
import numpy as np
import pytest

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


def test_a_smaller_translation_is_the_same_crop_of_a_smaller_padding():
  images = _images()
  for seed in range(3):
    offsets, flips = augment.draw(0, seed, 5, len(images), max_translate=2)
    assert offsets.min() >= 2 and offsets.max() <= 6
    got = augment.crop_and_flip_numpy(images, offsets, flips)
    for image, (row, col), flip, out in zip(images, offsets - 2, flips, got):
      padded = np.pad(image, [(2, 2), (2, 2), (0, 0)], mode='reflect')  # airbench's padding.
      crop = padded[row:row + 8, col:col + 8]
      np.testing.assert_array_equal(out, crop[:, ::-1] if flip else crop)
  offsets = np.concatenate([augment.draw(0, s, t, 64, max_translate=2)[0]
                            for s in range(4) for t in range(10)])
  assert set(np.unique(offsets)) == {2, 3, 4, 5, 6}


def test_alternating_flips_flip_each_image_the_other_way_every_epoch():
  positions = np.arange(2000)
  first = augment.alternating_flips(0, 3, positions, np.zeros(2000, int))
  assert abs(first.mean() - 0.5) < 0.05  # A draw of its own per image.
  for epoch in range(1, 5):
    flips = augment.alternating_flips(0, 3, positions, np.full(2000, epoch))
    np.testing.assert_array_equal(flips, first ^ (epoch % 2 == 1))
  with warnings.catch_warnings():
    warnings.simplefilter('error')  # Large seeds hash without overflow warnings.
    large = augment.alternating_flips(2**31, 2**32 - 1, positions, np.zeros(2000, int))
  assert 0.4 < large.mean() < 0.6
  other_seed = augment.alternating_flips(0, 4, positions, np.zeros(2000, int))
  other_data_seed = augment.alternating_flips(1, 3, positions, np.zeros(2000, int))
  assert 0.4 < np.mean(first != other_seed) < 0.6
  assert 0.4 < np.mean(first != other_data_seed) < 0.6


def test_test_views_are_airbenchs_weighted_views():
  images = np.random.default_rng(1).normal(size=(2, 5, 5, 3)).astype(np.float32)
  mirror = images[:, :, ::-1]
  padded = np.pad(images, [(0, 0), (1, 1), (1, 1), (0, 0)], mode='reflect')
  down_right, up_left = padded[:, :5, :5], padded[:, 2:, 2:]
  assert down_right[0, 1, 1, 0] == images[0, 0, 0, 0]  # Content moved one pixel down-right.
  expected = {
      'none': [(1.0, images)],
      'flip': [(0.5, images), (0.5, mirror)],
      'flip_translate': [(0.25, images), (0.25, mirror), (0.125, down_right),
                         (0.125, down_right[:, :, ::-1]), (0.125, up_left),
                         (0.125, up_left[:, :, ::-1])]}
  for name, views in expected.items():
    got = augment.test_views(images, name)
    assert [w for w, _ in got] == [w for w, _ in views] and sum(w for w, _ in got) == 1
    for (_, view), (_, want) in zip(got, views):
      np.testing.assert_array_equal(view, want)
  with pytest.raises(ValueError, match='none, flip, flip_translate'):
    augment.test_views(images, 'mirror')
