"""A TFDS split as a stream: the same examples, ids and labels as the in-memory source, split
over processes, resumable, resized and centre-cropped on request."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from datadiet import errors
from datadiet.data import sources, streaming


def _all(batches):
  out = {key: [] for key in ('image', 'label', 'id')}
  for batch in batches:
    for key in out:
      out[key].append(batch[key][batch['mask']])
  return {key: np.concatenate(value) for key, value in out.items()}


def test_the_stream_holds_the_in_memory_split():
  with tfds.testing.mock_data(num_examples=23):
    loaded = sources.load('cifar10')
    streamed = _all(streaming.stream_split('cifar10', 'train', batch_size=5))
  order = np.argsort(streamed['id'])
  np.testing.assert_array_equal(streamed['id'][order], loaded.train['id'])
  np.testing.assert_array_equal(streamed['label'][order], loaded.train['label'])
  np.testing.assert_array_equal(streamed['image'][order], loaded.train['image'])


def test_processes_read_disjoint_shards_and_a_pass_resumes():
  with tfds.testing.mock_data(num_examples=23):
    whole = _all(streaming.stream_split('cifar10', 'train', batch_size=4))
    shards = [_all(streaming.stream_split('cifar10', 'train', batch_size=4, process_index=i,
                                          process_count=2)) for i in range(2)]
    resumed = _all(streaming.stream_split('cifar10', 'train', batch_size=4, process_index=1,
                                          process_count=2, start=5))
    batches = list(streaming.stream_split('cifar10', 'train', batch_size=4))
  assert sorted(np.concatenate([s['id'] for s in shards])) == sorted(whole['id'])
  assert not set(shards[0]['id']) & set(shards[1]['id'])
  np.testing.assert_array_equal(shards[0]['id'], whole['id'][0::2])  # Example i → i % 2.
  np.testing.assert_array_equal(resumed['id'], shards[1]['id'][5:])
  assert [int(b['mask'].sum()) for b in batches] == [4, 4, 4, 4, 4, 3]
  assert all(b['image'].shape[0] == 4 for b in batches)


def test_resize_and_centre_crop_to_a_square():
  with tfds.testing.mock_data(num_examples=6):
    batch = next(streaming.stream_split('cifar10', 'test', batch_size=6, image_size=24))
  assert batch['image'].shape == (6, 24, 24, 3) and batch['image'].dtype == np.uint8
  # A constant image stays constant through resize and crop.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  constant = tf.fill([40, 64, 3], tf.constant(77, tf.uint8))
  cropped = streaming._resize_and_crop(tf, constant, 32, 0.875).numpy()
  assert cropped.shape == (32, 32, 3) and (cropped == 77).all()
  with pytest.raises(errors.InputError, match=r'process_index 2 is not in \[0, 2\)'):
    next(streaming.stream_split('cifar10', 'train', batch_size=4, process_index=2,
                                process_count=2))
