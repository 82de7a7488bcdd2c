"""Padded batches: every example exactly once, padding masked, one shape for all batches."""

import numpy as np
import pytest

from datadiet.batching import padded_batches, score_arrays


@pytest.mark.parametrize('num_examples,batch_size', [(10, 4), (8, 4), (3, 5)])
def test_every_example_once_with_fixed_shapes(num_examples, batch_size):
  arrays = {'x': np.arange(num_examples * 2).reshape(num_examples, 2),
            'y': np.arange(num_examples)}
  batches = list(padded_batches(arrays, batch_size))
  assert {b['x'].shape for b in batches} == {(batch_size, 2)}
  seen = np.concatenate([b['y'][b['mask']] for b in batches])
  np.testing.assert_array_equal(seen, np.arange(num_examples))
  assert sum(int(b['mask'].sum()) for b in batches) == num_examples


def test_score_arrays_trims_padding_on_the_last_axis():
  arrays = {'y': np.arange(7, dtype=np.float32)}
  per_seed = score_arrays(lambda b: np.stack([b['y'], 2 * b['y']]), arrays, batch_size=3)
  np.testing.assert_array_equal(per_seed, [np.arange(7), 2 * np.arange(7)])


def test_bad_inputs():
  with pytest.raises(ValueError, match='batch_size must be >= 1'):
    list(padded_batches({'x': np.zeros(3)}, 0))
  with pytest.raises(ValueError, match='disagree'):
    list(padded_batches({'x': np.zeros(3), 'y': np.zeros(4)}, 2))
