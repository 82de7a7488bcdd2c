"""Normalisation: zero mean and unit std per channel; the streaming pass's sums give the same
statistics; given statistics are checked."""

import numpy as np
import pytest

from datadiet import errors
from datadiet.data import normalization

NUM = 40


def test_normalisation_per_channel():
  images = np.random.default_rng(0).integers(0, 256, (NUM, 8, 8, 3), dtype=np.uint8)
  normalized = normalization.normalize(images, normalization.channel_stats(images))
  assert normalized.dtype == np.float32
  np.testing.assert_allclose(normalized.reshape(-1, 3).mean(0), 0, atol=1e-5)
  np.testing.assert_allclose(normalized.reshape(-1, 3).std(0), 1, atol=1e-5)


def test_statistics_from_sums_equal_those_of_the_images():
  images = np.random.default_rng(1).integers(0, 256, (NUM, 5, 5, 3), dtype=np.uint8)
  pixels = images.reshape(-1, 3).astype(np.int64)
  from_sums = normalization.stats_from_sums(len(pixels), pixels.sum(0), (pixels**2).sum(0))
  direct = normalization.channel_stats(images)
  np.testing.assert_allclose(from_sums.mean, direct.mean, rtol=1e-12)
  np.testing.assert_allclose(from_sums.std, direct.std, rtol=1e-9)


def test_given_statistics_are_checked_against_the_channels():
  assert normalization.checked_stats(((0.5,), (0.25,)), 1) == normalization.ChannelStats(
      (0.5,), (0.25,))
  with pytest.raises(errors.InputError, match=r"for the images' 3 channel\(s\)"):
    normalization.checked_stats(((0.5,), (0.25,)), 3)
  with pytest.raises(errors.InputError, match='stds positive'):
    normalization.checked_stats(((0.5,), (0.0,)), 1)
