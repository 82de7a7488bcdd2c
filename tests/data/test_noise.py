"""Label noise: exactly the requested fraction, always a different class, seeded."""

import numpy as np
import pytest

from datadiet.data.noise import corrupt_labels


def test_exact_fraction_always_different_and_seeded():
  labels = np.arange(1000) % 10
  noisy, mask = corrupt_labels(labels, 0.2, 10, seed=3)
  assert mask.sum() == 200
  assert np.all(noisy[mask] != labels[mask]) and np.all(noisy[~mask] == labels[~mask])
  again, mask_again = corrupt_labels(labels, 0.2, 10, seed=3)
  np.testing.assert_array_equal(noisy, again)
  np.testing.assert_array_equal(mask, mask_again)
  _, other = corrupt_labels(labels, 0.2, 10, seed=4)
  assert not np.array_equal(mask, other)
  # New labels spread over the other classes (each of the 9 shifts is used).
  assert len(np.unique((noisy[mask] - labels[mask]) % 10)) == 9


@pytest.mark.parametrize('fraction', [-0.1, 1.0, 1.5])
def test_fraction_out_of_range(fraction):
  with pytest.raises(ValueError, match=r'must be in \[0, 1\)'):
    corrupt_labels(np.zeros(5, int), fraction, 10, seed=0)
