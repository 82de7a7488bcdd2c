"""Datasets by name, loaded into memory with a stable id for every example.

Names:

* ``digits`` — scikit-learn's 1,797 handwritten digits (8×8 grey, 10 classes). It ships inside
  the installed package, so it works offline; ids are the example's index in that release.
* ``image_folder:<path>`` — a ``tfds.ImageFolder`` tree ``<path>/<split>/<class>/<file>``
  (splits ``train`` and ``test``; JPEG or PNG), decoded with Pillow, so no TensorFlow is
  needed; labels index the sorted class names, as ``tfds.ImageFolder``'s do; ids
  are ``<class>/<file>``. JPEGs decode with libjpeg's accurate integer DCT (TensorFlow's
  ``dct_method='INTEGER_ACCURATE'``; TensorFlow's default fast DCT differs by up to 4 grey
  levels).
* any TFDS image-classification dataset (``cifar10``, ``cifar100``, …) — read from ``data_dir``
  (downloaded there first if ``download=True`` and the machine has internet); ids are TFDS ids.
  Needs ``tensorflow-datasets`` (``pip install 'datadiet[tf]'``).

Every split is a dict of NumPy arrays: ``image`` uint8 ``(N, H, W, C)``, ``label`` int32 and
``id`` (int64 or str), sorted by id so the order is reproducible.

Example::

  data = load('image_folder:../shared/datasets/cifar10_jpeg')
  data.train['image'].shape, data.train['id'][:2], data.num_classes
"""

from __future__ import annotations

import dataclasses
import functools

import ml_collections

from datadiet import errors
from datadiet.data import digits, image_folder, streaming, tfds_datasets
from datadiet.data.dataset import NAME_FORMS, Dataset, read_only


def index(name: str, data_dir: str | None = None, download: bool = True,
          image_size: int | None = None) -> Dataset:
  """The dataset ``name`` without its images: ids, labels and each example's ``location``
  (its file, or its TFDS ArrayRecord record), read by :mod:`datadiet.data.streaming` (resized
  and centre-cropped to ``image_size`` when given). TFDS datasets need TFDS; image folders need
  nothing more. Like :func:`load`, indexed once per process (the last two are kept), arrays
  read-only."""
  return _index_once(name, data_dir, download, image_size)


@functools.lru_cache(maxsize=2)
def _index_once(name: str, data_dir: str | None, download: bool,
                image_size: int | None) -> Dataset:
  if name == 'digits':
    raise errors.InputError('digits ships in memory; it cannot be streamed. Use '
                            "input_pipeline 'device' or 'tf_data'.")
  if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int)
                                 or image_size < 1):
    raise errors.InputError(f'config.data.image_size must be a positive number of pixels (or '
                            f'None: as stored), got {image_size!r}.')
  if name.startswith('image_folder:'):
    return read_only(image_folder.index(name.removeprefix('image_folder:'), image_size))
  if not name or ':' in name:
    raise errors.InputError(f'Unknown dataset {name!r}; valid forms: {", ".join(NAME_FORMS)}.')
  return read_only(tfds_datasets.index(name, data_dir, download, image_size))


def load(name: str, data_dir: str | None = None, download: bool = True,
         image_size: int | None = None) -> Dataset:
  """Loads the dataset called ``name`` (see the module docstring for the forms); with
  ``image_size``, every image resized and centre-cropped to it as the streaming reader does.

  A process loads each dataset once (the last two are kept): later calls return the same
  :class:`Dataset`, whose arrays are read-only so that no caller can change another's data.
  """
  return _load_once(name, data_dir, download, image_size)


@functools.lru_cache(maxsize=2)
def _load_once(name: str, data_dir: str | None, download: bool,
               image_size: int | None) -> Dataset:
  if image_size is not None:
    return read_only(streaming.materialise(index(name, data_dir, download, image_size)))
  if name == 'digits':
    return read_only(digits.load())
  if name.startswith('image_folder:'):
    return read_only(image_folder.load(name.removeprefix('image_folder:')))
  if not name or ':' in name:
    raise errors.InputError(f'Unknown dataset {name!r}; valid forms: {", ".join(NAME_FORMS)}.')
  return read_only(tfds_datasets.load(name, data_dir, download))


def for_config(config: ml_collections.ConfigDict) -> Dataset:
  """The dataset of ``config.data``: indexed only (images left on disk) for the ``stream`` path,
  its reader carrying ``config.runtime.stream_workers`` and ``stream_readers``; else loaded into
  memory, resized to ``data.image_size`` when set."""
  data = config.data
  if config.runtime.input_pipeline == 'stream':
    indexed = index(data.name, data_dir=data.dir, image_size=data.image_size)
    return dataclasses.replace(indexed, reader=dict(
        indexed.reader, workers=config.runtime.stream_workers,
        readers=config.runtime.stream_readers))  # Checked by ImageReader (and preflight).
  return load(data.name, data_dir=data.dir, image_size=data.image_size)
