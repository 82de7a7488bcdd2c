"""The stream input path reads from disk exactly what the in-memory paths hold: the same
examples, ids, labels and pixels, the same training batches step by step, and each process only
the rows its devices hold."""

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from datadiet import errors
from datadiet.data import (feed, image_folder, image_ops, normalization, resized_crop, sources,
                           streaming, tfds_datasets, train_order)
from datadiet.train import ensemble
from tests import tiny_tfds

ROOT = Path(__file__).resolve().parents[2]


def _evaluation_images(data, batch_size=4):
  examples = streaming.StreamedExamples(streaming.reader_for(data), data.train['location'],
                                        data.train['label'], stats=None)
  batches = list(examples.batches(batch_size))
  assert all(b['image'].shape[0] == batch_size for b in batches)
  return np.concatenate([b['image'][b['mask']] for b in batches])


def test_variable_size_images_stream_as_they_load_resized(tmp_path, write_varied_image_folder):
  name = write_varied_image_folder(tmp_path / 'images')
  streamed = sources.index(name, image_size=16)
  loaded = sources.load(name, image_size=16)
  assert streamed.streamed and not loaded.streamed and streamed.image_shape == (16, 16, 3)
  np.testing.assert_array_equal(streamed.train['id'], loaded.train['id'])
  np.testing.assert_array_equal(streamed.train['label'], loaded.train['label'])
  np.testing.assert_array_equal(_evaluation_images(streamed), loaded.train['image'])


def test_jpegs_decode_as_pillow_decodes_them(tmp_path, write_varied_image_folder):
  """Unresized JPEGs: the stream's reader threads give the in-memory loader's pixels."""
  name = write_varied_image_folder(tmp_path / 'images', min_side=24, max_side=24)
  streamed, loaded = sources.index(name), sources.load(name)
  assert streamed.image_shape == (24, 24, 3)
  np.testing.assert_array_equal(_evaluation_images(streamed), loaded.train['image'])


def test_images_of_several_sizes_need_an_image_size(tmp_path, write_varied_image_folder):
  name = write_varied_image_folder(tmp_path / 'images')
  with pytest.raises(errors.InputError, match='resize them to one size|data.image_size'):
    sources.index(name)
  with pytest.raises(errors.InputError, match='config.data.image_size must be a positive'):
    sources.index(name, image_size=0)
  with pytest.raises(errors.InputError, match='digits ships in memory'):
    sources.index('digits')


def test_tfds_array_record_streams_as_it_loads(tmp_path):
  tiny_tfds.build(tmp_path)
  streamed = sources.index('tiny_images', data_dir=str(tmp_path), image_size=20)
  loaded = sources.load('tiny_images', data_dir=str(tmp_path), image_size=20)
  assert len(streamed.train['id']) == 14 and len(streamed.test['id']) == 5
  assert streamed.train['id'][0] == 'tiny_images-train.array_record-00000-of-00001__0'
  np.testing.assert_array_equal(streamed.train['id'], loaded.train['id'])
  np.testing.assert_array_equal(streamed.train['label'], loaded.train['label'])
  np.testing.assert_array_equal(_evaluation_images(streamed), loaded.train['image'])
  assert sorted(np.bincount(streamed.train['label']).tolist()) == [4, 5, 5]


def test_tfds_labels_are_read_once_per_prepared_dataset(tmp_path, monkeypatch):
  """Indexing reads every record (the labels); the labels are kept beside the dataset until its
  record files change."""
  tiny_tfds.build(tmp_path)
  reads, read_labels = [], tfds_datasets._read_labels  # pylint: disable=protected-access
  monkeypatch.setattr(tfds_datasets, '_read_labels', lambda *a: reads.append(1) or read_labels(*a))

  def labels():
    sources._index_once.cache_clear()  # pylint: disable=protected-access
    data = sources.index('tiny_images', data_dir=str(tmp_path), image_size=20)
    return data.train['label'], data.test['label']
  first = labels()
  assert len(reads) == 2  # train, test
  again = labels()
  assert len(reads) == 2
  for a, b in zip(first, again):
    np.testing.assert_array_equal(a, b)
  version_dir = tmp_path / 'tiny_images' / '1.0.0'
  assert (version_dir / 'datadiet_labels.train.npz').exists()
  record = next(version_dir.glob('*-train.array_record*'))
  os.utime(record, ns=(record.stat().st_atime_ns, record.stat().st_mtime_ns + 10**9))
  np.testing.assert_array_equal(labels()[0], first[0])
  assert len(reads) == 3  # The changed split only.


def test_tfds_in_order_only_formats_are_refused():
  with tfds.testing.mock_data(num_examples=4):
    with pytest.raises(errors.InputError, match='--file_format=array_record'):
      sources.index('cifar10')


@pytest.mark.parametrize('augmentation', ['none', 'pad_crop_flip'])
def test_streamed_training_batches_equal_the_in_memory_ones(tmp_path, write_image_folder,
                                                            augmentation):
  write_image_folder(tmp_path / 'images', per_class=9)
  name = f'image_folder:{tmp_path / "images"}'
  loaded, streamed = sources.load(name), sources.index(name)
  labels = loaded.train['label']
  order = train_order.TrainOrder(np.arange(2, 18), [0, 1], 6, data_seed=3,
                                 augment=augmentation == 'pad_crop_flip')
  sharding = ensemble.batch_sharding(ensemble.make_mesh(2))
  realise = jax.jit(jax.vmap(feed.raw_inputs, in_axes=(0, None)))
  results = {}
  for path, data in (('device', loaded), ('stream', streamed)):
    table, batches = feed.train_batches(path, data, labels, order, 2, 5, sharding, augmentation)
    results[path] = [jax.device_get(realise(batch, table)) for batch in batches]
  assert len(results['stream']) == 5
  for (images, labels_a), (streamed_images, labels_b) in zip(*results.values()):
    np.testing.assert_array_equal(images, streamed_images)
    np.testing.assert_array_equal(labels_a, labels_b)


def test_resized_crops_follow_their_draws_and_resume(tmp_path, write_varied_image_folder):
  data = sources.index(write_varied_image_folder(tmp_path / 'images'), image_size=12)
  order = train_order.TrainOrder(np.arange(len(data.train['id'])), [4], 5, data_seed=1)
  sharding = ensemble.batch_sharding(ensemble.make_mesh(1))
  stream = lambda start, count: [jax.device_get(b) for b in streaming.train_stream(  # noqa: E731
      streaming.reader_for(data), data.train['location'], data.train['label'], order,
      'resized_crop_flip', start, count, sharding)]
  full, resumed = stream(0, 4), stream(2, 2)
  for a, b in zip(full[2:], resumed):
    np.testing.assert_array_equal(a['image'], b['image'])
  # Step 3 by hand: the plan's files, decoded, cropped as drawn, resized and flipped.
  draws = resized_crop.draw(1, 4, 3, 5)
  for i, position in enumerate(order.positions(3)[0]):
    path = tmp_path / 'images' / data.train['location'][position].decode()
    image = image_ops.as_channels(image_folder.decode_image(path.read_bytes()), 3)
    expected = resized_crop.crop_resize_flip(image, draws['attempts'][i], draws['flip'][i], 12)
    np.testing.assert_array_equal(full[3]['image'][0, i], expected)
    assert full[3]['label'][0, i] == data.train['label'][position]
  with pytest.raises(errors.InputError, match='Unknown augmentation'):
    next(streaming.train_stream(streaming.reader_for(data), data.train['location'],
                                data.train['label'], order, 'mixup', 0, 1, sharding))


def test_streamed_channel_statistics_equal_the_in_memory_ones(tmp_path,
                                                             write_varied_image_folder):
  name = write_varied_image_folder(tmp_path / 'images')
  streamed = sources.index(name, image_size=10)
  measured = streaming.channel_stats(streaming.reader_for(streamed), streamed.train['location'],
                                     batch_size=4)
  expected = normalization.channel_stats(sources.load(name, image_size=10).train['image'])
  np.testing.assert_allclose(measured.mean, expected.mean, rtol=1e-12)
  np.testing.assert_allclose(measured.std, expected.std, rtol=1e-12)
  with pytest.raises(errors.InputError, match='channel_stats must be'):
    normalization.checked_stats(((0.5, 0.5), (0.2, 0.2)), 3)
  assert normalization.checked_stats(((0.5,) * 3, (0.2,) * 3), 3).std == (0.2,) * 3


class _TwoDeviceSharding:
  """What two devices of a (2, 4) batch hold: row 0's columns 2–3, and row 1's columns 0–1."""

  def addressable_devices_indices_map(self, shape):
    assert shape == (2, 4)
    return {'a': (slice(0, 1), slice(2, 4)), 'b': (slice(1, 2), slice(0, 2))}


def test_a_process_reads_only_the_cells_its_devices_hold():
  np.testing.assert_array_equal(streaming.local_rows(_TwoDeviceSharding(), (2, 4)),
                                [2, 3, 4, 5])
  sharding = ensemble.batch_sharding(ensemble.make_mesh(1))
  rows = streaming.local_rows(sharding, (1, 3))
  np.testing.assert_array_equal(rows, [0, 1, 2])
  values = np.arange(6).reshape(3, 2)
  placed = streaming.rows_to_device(values, rows, (1, 3), sharding)
  np.testing.assert_array_equal(jax.device_get(placed), values[None])


def test_a_scoring_pass_resumes_without_reading_earlier_batches(tmp_path,
                                                                write_varied_image_folder):
  data = sources.index(write_varied_image_folder(tmp_path / 'images'), image_size=8)
  examples = streaming.StreamedExamples(streaming.reader_for(data), data.train['location'],
                                        data.train['label'], stats=None)
  keys = {'key': np.arange(len(examples))}
  whole = list(examples.batches(4, keys))
  resumed = list(examples.batches(4, keys, start_batch=3))
  assert len(whole) == 5 and len(resumed) == 2
  for a, b in zip(whole[3:], resumed):
    for name in ('image', 'label', 'key', 'mask'):
      np.testing.assert_array_equal(a[name], b[name])


def test_an_unreadable_file_is_named_in_one_line(tmp_path, write_varied_image_folder):
  name = write_varied_image_folder(tmp_path / 'images')
  bad = tmp_path / 'images' / 'train' / 'dog' / '03.jpg'
  bad.write_bytes(bad.read_bytes()[:len(bad.read_bytes()) // 2])  # Its header reads; its data ends.
  data = sources.index(name, image_size=8)
  examples = streaming.StreamedExamples(streaming.reader_for(data), data.train['location'],
                                        data.train['label'], stats=None)
  with pytest.raises(errors.InputError,
                     match=r'train/dog/03\.jpg cannot be read or decoded \(image file is trunc'):
    list(examples.batches(4))
  order = train_order.TrainOrder(np.arange(len(data.train['id'])), [0], 6, data_seed=0)
  sharding = ensemble.batch_sharding(ensemble.make_mesh(1))
  with pytest.raises(errors.InputError, match=r'dog/03\.jpg cannot be read or decoded'):
    list(streaming.train_stream(streaming.reader_for(data), data.train['location'],
                                data.train['label'], order, 'none', 0, 4, sharding))
  # A file that is no image at all is refused when the folder is indexed, before any work,
  # with image_size (every header is read) and without (every header and size).
  (tmp_path / 'images' / 'test' / 'eel' / '01.jpg').write_bytes(b'\xff\xd8 not a JPEG')
  sources._index_once.cache_clear()  # pylint: disable=protected-access
  with pytest.raises(errors.InputError, match=r'cannot read .*test/eel/01\.jpg \(not an '
                     r'image format Pillow reads\); replace it with a readable copy \(or remove '
                     r'it and start a new workdir\)\.$'):
    sources.index(name, image_size=8)
  same_size = write_varied_image_folder(tmp_path / 'same', min_side=20, max_side=20)
  (tmp_path / 'same' / 'test' / 'eel' / '01.jpg').write_bytes(b'garbage')
  with pytest.raises(errors.InputError, match=r'cannot read .*eel/01\.jpg'):
    sources.index(same_size)


def test_a_stream_left_unfinished_exits_quietly(tmp_path, write_varied_image_folder):
  """A run that stops mid-stream (an error, a kill signal handled) leaves a suspended reader,
  closed at interpreter exit: no 'Exception ignored' traceback after the run's own output."""
  name = write_varied_image_folder(tmp_path / 'images')
  script = (f'from datadiet.data import sources, streaming\n'
            f'data = sources.index({name!r}, image_size=8)\n'
            'batches = streaming.StreamedExamples(streaming.reader_for(data), '
            "data.train['location'], data.train['label'], stats=None).batches(2)\n"
            'next(batches)\n')
  result = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'Exception ignored' not in result.stderr and 'Traceback' not in result.stderr


def test_an_unprepared_tfds_dataset_is_not_downloaded_for_streaming(tmp_path):
  with pytest.raises(errors.MissingInputError, match='--file_format=array_record'):
    sources.index('cifar10', data_dir=str(tmp_path))
  assert not (tmp_path / 'downloads').exists()
