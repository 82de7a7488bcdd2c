"""Input paths: which one 'auto' picks, and both realising the same batches and examples."""

import jax
import ml_collections
import numpy as np
import pytest

from datadiet import optional_deps
from datadiet.data import dataset, feed, normalization, sources, tf_stream, train_order
from datadiet.train import ensemble

NUM = 40


def _split():
  rng = np.random.default_rng(0)
  return (rng.integers(0, 256, (NUM, 8, 8, 3), dtype=np.uint8),
          rng.integers(0, 4, NUM).astype(np.int32))


def test_auto_keeps_data_on_the_device_when_it_fits(monkeypatch):
  assert feed.resolve('auto', data_bytes=10**12) == 'device'  # CPU: host memory is the device's.
  assert feed.resolve('tf_data', data_bytes=1) == 'tf_data'
  monkeypatch.setattr(feed, 'device_memory_bytes', lambda device: 1000)  # A 1000-byte GPU.
  assert feed.resolve('auto', data_bytes=250, max_fraction=0.25) == 'device'
  assert feed.resolve('auto', data_bytes=251, max_fraction=0.25) == 'tf_data'
  monkeypatch.setattr(optional_deps, 'tensorflow_available', lambda: False)
  with pytest.raises(ValueError, match='exceed device_data_max_fraction=0.25.*not installed'):
    feed.resolve('auto', data_bytes=251, max_fraction=0.25)
  with pytest.raises(ValueError, match="input_pipeline='tf_data' needs TensorFlow"):
    feed.resolve('tf_data', data_bytes=1)
  with pytest.raises(ValueError, match='valid: auto, device, tf_data, stream'):
    feed.resolve('gpu', data_bytes=1)
  for fraction in (0, -1, 5):
    with pytest.raises(ValueError, match=r'device_data_max_fraction must be in \(0, 1\]'):
      feed.resolve('auto', data_bytes=1, max_fraction=fraction)


@pytest.mark.parametrize('augment', [False, True])
def test_both_paths_give_the_same_training_batches(augment):
  images, labels = _split()
  order = train_order.TrainOrder(np.arange(3, NUM), [0, 1], 8, data_seed=0, augment=augment)
  sharding = ensemble.batch_sharding(ensemble.make_mesh(2))
  realise = jax.jit(jax.vmap(feed.raw_inputs, in_axes=(0, None)))  # Over the seed axis.
  results = {}
  for path in ('device', 'tf_data'):
    data = dataset.Dataset('x', {'image': images, 'label': labels}, {}, num_classes=4)
    table, batches = feed.train_batches(path, data, labels, order, 2, 4, sharding)
    results[path] = [jax.device_get(realise(batch, table)) for batch in batches]
  assert len(results['device']) == 4
  for (device_images, device_labels), (tf_images, tf_labels) in zip(*results.values()):
    np.testing.assert_array_equal(device_images, tf_images)
    np.testing.assert_array_equal(device_labels, tf_labels)
  # And they are the plan's: step 2's positions, cropped and flipped as drawn.
  plan = order.batch(2)
  expected = images[plan['index'][1]]
  if augment:
    from datadiet.data import augment as augmentation
    expected = augmentation.crop_and_flip_numpy(expected, plan['offset'][1], plan['flip'][1])
  np.testing.assert_array_equal(results['device'][0][0][1], expected)


def test_tf_stream_resumes_mid_run():
  images, labels = _split()
  order = train_order.TrainOrder(np.arange(NUM), [0], 8, data_seed=0, augment=True)
  full = list(tf_stream.train_stream(images, labels, order, 0, 6).as_numpy_iterator())
  resumed = list(tf_stream.train_stream(images, labels, order, 4, 2).as_numpy_iterator())
  for a, b in zip(full[4:], resumed):
    np.testing.assert_array_equal(a['image'], b['image'])


def test_examples_read_every_example_once_from_either_copy():
  images, labels = _split()
  stats = normalization.channel_stats(images)
  mesh = ensemble.make_mesh(1)
  realise = jax.jit(feed.model_inputs, static_argnums=2)  # As evaluation and scoring do.
  seen = {}
  for path in ('device', 'tf_data'):
    examples = feed.Examples.create(images, labels, stats, mesh, path)
    batches = list(examples.batches(16, {'key': np.arange(NUM)}))
    assert [int(b['mask'].sum()) for b in batches] == [16, 16, 8]
    # Padding differs (zeros on the host, example 0 on the device); the mask hides it.
    seen[path] = [jax.tree.map(lambda x, m=b['mask']: np.asarray(x)[m],
                               (realise(b, examples.table, stats), b['key'])) for b in batches]
  for device_batch, host_batch in zip(*seen.values()):
    for a, b in zip(jax.tree.leaves(device_batch), jax.tree.leaves(host_batch)):
      np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(np.concatenate([b[0][1] for b in seen['device']]), labels)
  np.testing.assert_array_equal(np.concatenate([b[1] for b in seen['device']]), np.arange(NUM))


def test_fit_images_spread_over_the_kept_and_read_alike_from_disk(tmp_path, write_image_folder):
  write_image_folder(tmp_path / 'images', classes=('a', 'b', 'c'), per_class=5, size=9)
  loaded = sources.load(f'image_folder:{tmp_path / "images"}')
  streamed = sources.index(f'image_folder:{tmp_path / "images"}')
  stats = normalization.channel_stats(loaded.train['image'])
  kept = np.array([13, 1, 4, 7, 9, 11])  # Any order: taken in dataset order.
  for count, expected in ((3, [1, 7, 11]), (6, [1, 4, 7, 9, 11, 13]), (50, [1, 4, 7, 9, 11, 13])):
    images = feed.fit_images(loaded, kept, count, stats)
    np.testing.assert_array_equal(images, normalization.normalize(loaded.train['image'][expected],
                                                                  stats))
    np.testing.assert_array_equal(feed.fit_images(streamed, kept, count, stats), images)


def test_channel_stats_are_measured_once_per_read_only_dataset(monkeypatch):
  config = ml_collections.ConfigDict({'data': {'channel_stats': ()}})
  data = sources.load('digits')  # Read-only arrays, as every loaded dataset.
  calls = []
  measure = normalization.channel_stats
  monkeypatch.setattr(normalization, 'channel_stats', lambda x: calls.append(1) or measure(x))
  first = feed.channel_stats_for(config, data)
  assert feed.channel_stats_for(config, data) == first == measure(data.train['image'])
  assert len(calls) == 1
  # Writable images may change between runs: measured every time.
  train = dict(data.train, image=data.train['image'].copy())
  writable = dataset.Dataset('copy', train, data.test, data.num_classes)
  feed.channel_stats_for(config, writable)
  train['image'][:] = 0
  assert feed.channel_stats_for(config, writable).mean == (0.0,) and len(calls) == 3
