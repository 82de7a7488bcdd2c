"""Datasets by name: stable ids, image_folder layout, TFDS through mock data, clear errors."""

import errno

import numpy as np
import pytest
import tensorflow_datasets as tfds

from datadiet import errors
from datadiet.data import sources


def test_digits_is_offline_with_index_ids():
  data = sources.load('digits')
  assert data.train['image'].dtype == np.uint8 and data.train['image'].shape[1:] == (8, 8, 1)
  assert len(data.train['id']) + len(data.test['id']) == 1797
  assert not set(data.train['id']) & set(data.test['id'])
  assert np.all(np.diff(data.train['id']) > 0)  # Sorted by id.
  assert data.num_classes == 10


def test_image_folder_ids_are_class_and_file_names(tmp_path, write_image_folder):
  write_image_folder(tmp_path)
  data = sources.load(f'image_folder:{tmp_path}')
  assert data.num_classes == 2 and data.class_names == ('cat', 'dog')
  assert data.train['id'].tolist() == [f'{c}/{i:02d}.png' for c in ('cat', 'dog')
                                       for i in range(3)]
  np.testing.assert_array_equal(data.train['label'], [0, 0, 0, 1, 1, 1])
  # PNG is lossless: the pixels of dog/02.png are 42 + small noise.
  assert 42 <= data.train['image'][5].min() and data.train['image'][5].max() <= 44


def test_image_folder_errors(tmp_path, write_image_folder):
  with pytest.raises(FileNotFoundError, match='no directory'):
    sources.load(f'image_folder:{tmp_path / "missing"}')
  write_image_folder(tmp_path / 'one', classes=('only',))
  with pytest.raises(ValueError, match='1 class; need at least 2'):
    sources.load(f'image_folder:{tmp_path / "one"}')


def test_tfds_dataset_through_mock_data():
  with tfds.testing.mock_data(num_examples=12):
    data = sources.load('cifar10')
  assert data.train['image'].shape == (12, 32, 32, 3) and data.num_classes == 10
  assert len(set(data.train['id'])) == 12  # TFDS ids, unique.


def test_tfds_download_failure_says_where_to_place_the_files(tmp_path, monkeypatch, capsys):
  """The real builder code path up to the download (a missing TFDS dependency fails here),
  then no network: the error names the directory it looked in and how to fill it, TFDS prints
  nothing of its own, and the directories the attempt made are gone."""
  attempts = []

  def no_network(self, *args, **kwargs):
    attempts.append(args)
    raise ConnectionError('no route to host')

  monkeypatch.setattr(tfds.download.DownloadManager, 'download_and_extract', no_network)
  monkeypatch.setattr(tfds.download.DownloadManager, 'download', no_network)
  # A missing input, named as one on launch.py's line ('datadiet: MissingInputError: ...').
  (tmp_path / 'kept').mkdir()  # Another dataset's folder: left alone.
  with pytest.raises(errors.MissingInputError) as raised:
    sources.load('cifar10', data_dir=str(tmp_path))
  assert attempts, 'TFDS never reached the download'
  assert capsys.readouterr().out == '' and sorted(p.name for p in tmp_path.iterdir()) == ['kept']
  message = str(raised.value)
  assert f"TFDS could not download 'cifar10' into {tmp_path}/cifar10/" in message
  assert 'ConnectionError: no route to host' in message
  assert f'tfds build cifar10 --data_dir=<dir>`), copy <dir>/cifar10 to {tmp_path}/cifar10, ' \
      f'and pass --config.data.dir={tmp_path}' in message
  with pytest.raises(FileNotFoundError, match='is not in .* and downloading is off'):
    sources.load('cifar10', data_dir=str(tmp_path), download=False)


def test_tfds_download_onto_a_full_disk_says_the_disk_is_full(tmp_path, monkeypatch):
  def full_disk(self, *args, **kwargs):
    raise OSError(errno.ENOSPC, 'No space left on device')

  monkeypatch.setattr(tfds.download.DownloadManager, 'download_and_extract', full_disk)
  monkeypatch.setattr(tfds.download.DownloadManager, 'download', full_disk)
  with pytest.raises(errors.DiskFullError, match=f'Could not write {tmp_path}/cifar10/.*'
                     'No space left on device.*free some space'):
    sources.load('cifar10', data_dir=str(tmp_path))


@pytest.mark.parametrize('name', ['not_a_dataset_xyz', 'folder:/tmp'])
def test_unknown_dataset_lists_valid_forms(name):
  with pytest.raises(ValueError, match='valid forms: digits, image_folder:<path>'):
    sources.load(name)


def test_sixteen_bit_png_keeps_its_high_bits(tmp_path):
  from PIL import Image
  values = np.arange(16, dtype=np.uint16).reshape(4, 4) * 4096  # 0, 4096, ..., 61440.
  for split in ('train', 'test'):
    for name in ('a', 'b'):
      (tmp_path / split / name).mkdir(parents=True)
      Image.fromarray(values).save(tmp_path / split / name / '0.png')
  data = sources.load(f'image_folder:{tmp_path}')
  np.testing.assert_array_equal(data.train['image'][0, ..., 0], values >> 8)  # 0, 16, ..., 240.
