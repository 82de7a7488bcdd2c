"""Datasets by name, loaded into memory with a stable id for every example.

Names:

* ``digits`` — scikit-learn's 1,797 handwritten digits (8×8 grey, 10 classes). It ships inside
  the installed package, so it works offline; ids are the example's index in that release.
* ``image_folder:<path>`` — a ``tfds.ImageFolder`` tree ``<path>/<split>/<class>/<file>``;
  ids are ``<class>/<file>`` (ImageFolder's order is not the file order, so never positions).
* any TFDS image-classification dataset (``cifar10``, ``cifar100``, …) — read from ``data_dir``
  (downloaded there first if ``download=True`` and the machine has internet); ids are TFDS ids.

Every split is a dict of NumPy arrays: ``image`` uint8 ``(N, H, W, C)``, ``label`` int32 and
``id`` (int64 or str), sorted by id so the order is reproducible.

Example::

  data = load('image_folder:../shared/datasets/cifar10_jpeg')
  data.train['image'].shape, data.train['id'][:2], data.num_classes
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import numpy as np

from datadiet import errors

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png')  # What tfds.ImageFolder reads.
NAME_FORMS = ('digits', 'image_folder:<path>', '<any TFDS image-classification dataset>')


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Train and test splits as dicts of arrays with keys ``image``, ``label`` and ``id``."""
  name: str
  train: dict[str, np.ndarray]
  test: dict[str, np.ndarray]
  num_classes: int
  class_names: tuple[str, ...] = ()


def _sorted_by_id(split: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  order = np.argsort(split['id'], kind='stable')
  return {key: value[order] for key, value in split.items()}


def _digits(test_fraction: float = 0.2, split_seed: int = 0) -> Dataset:
  from sklearn.datasets import load_digits  # Only this loader needs scikit-learn.
  digits = load_digits()
  # 0..16 grey levels → uint8, like every other image source.
  images = np.round(digits.images * (255 / 16)).astype(np.uint8)[..., None]
  labels = digits.target.astype(np.int32)
  ids = np.arange(len(labels), dtype=np.int64)
  order = np.random.default_rng(split_seed).permutation(len(labels))
  num_test = int(round(test_fraction * len(labels)))
  split = lambda idx: _sorted_by_id({'image': images[idx], 'label': labels[idx], 'id': ids[idx]})
  return Dataset('digits', split(order[num_test:]), split(order[:num_test]), num_classes=10,
                 class_names=tuple(str(d) for d in range(10)))


def _tfds_to_arrays(dataset, image_key: str, label_key: str, id_fn) -> dict[str, np.ndarray]:
  import tensorflow_datasets as tfds
  images, labels, ids = [], [], []
  for batch in tfds.as_numpy(dataset.batch(1024)):
    images.append(batch[image_key])
    labels.append(batch[label_key].astype(np.int32))
    ids.extend(id_fn(batch))
  if not images:
    raise errors.InputError('The split holds no examples.')
  return _sorted_by_id({'image': np.concatenate(images), 'label': np.concatenate(labels),
                        'id': np.array(ids)})


def _image_folder(root: str) -> Dataset:
  import tensorflow_datasets as tfds
  root_path = Path(root)
  if not root_path.is_dir():
    raise errors.MissingInputError(f'image_folder: no directory at {root!r}; expected '
                                   '<path>/<split>/<class>/<image files>.')
  for split in ('train', 'test'):
    if not any(f.suffix.lower() in IMAGE_SUFFIXES for f in root_path.glob(f'{split}/*/*')):
      raise errors.InputError(
          f'image_folder: {root!r} has no images in {split}/<class>/ (looked for '
          f'{", ".join(IMAGE_SUFFIXES)} files); expected <path>/<split>/<class>/<image files> '
          'for the splits train and test.')
  builder = tfds.ImageFolder(str(root_path))  # Finds train and test: both hold images.
  class_names = tuple(builder.info.features['label'].names)
  if len(class_names) < 2:
    raise errors.InputError(
        f'image_folder: {root!r} has {len(class_names)} class; need at least 2.')

  def relative_ids(batch):
    return ['/'.join(Path(os.fsdecode(f)).parts[-2:]) for f in batch['image/filename']]

  load_split = lambda split: _tfds_to_arrays(builder.as_dataset(split=split, shuffle_files=False),
                                             'image', 'label', relative_ids)
  return Dataset(f'image_folder:{root}', load_split('train'), load_split('test'),
                 num_classes=len(class_names), class_names=class_names)


def _tfds(name: str, data_dir: str | None, download: bool) -> Dataset:
  import tensorflow_datasets as tfds
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise errors.InputError(
        f'Unknown dataset {name!r}; valid forms: {", ".join(NAME_FORMS)}.') from e
  if download:
    try:
      builder.download_and_prepare()
    except Exception as e:  # No internet, no space, a broken cache: say what to do instead.
      raise errors.DatadietError(
          f'TFDS could not prepare {name!r} in {builder.data_dir} ({type(e).__name__}: {e}). '
          'On a machine without internet, prepare it elsewhere and pass its directory as '
          'data_dir, or use an image_folder:<path> copy.') from e
  image_key, label_key = builder.info.supervised_keys or ('image', 'label')
  read_config = tfds.ReadConfig(add_tfds_id=True)
  tfds_ids = lambda batch: [i.decode() for i in batch['tfds_id']]
  load_split = lambda split: _tfds_to_arrays(
      builder.as_dataset(split=split, shuffle_files=False, read_config=read_config), image_key,
      label_key, tfds_ids)
  label_feature = builder.info.features[label_key]
  return Dataset(name, load_split('train'), load_split('test'),
                 num_classes=label_feature.num_classes,
                 class_names=tuple(getattr(label_feature, 'names', ())))


def positions_of(split: dict[str, np.ndarray], ids) -> np.ndarray:
  """Positions in ``split`` of the examples with ``ids``; unknown or repeated ids are errors."""
  ids = np.asarray(ids)
  position = {key: i for i, key in enumerate(split['id'].tolist())}
  unknown = [key for key in ids.tolist() if key not in position]
  if unknown:
    raise errors.InputError(f'{len(unknown)} ids are not in the split (e.g. {unknown[:5]}).')
  if len(set(ids.tolist())) != len(ids):
    raise errors.InputError('The ids to keep contain duplicates.')
  return np.array([position[key] for key in ids.tolist()], dtype=np.int64)


def load(name: str, data_dir: str | None = None, download: bool = True) -> Dataset:
  """Loads the dataset called ``name`` (see the module docstring for the forms).

  A process loads each dataset once (the last two are kept): later calls return the same
  :class:`Dataset`, whose arrays are read-only so that no caller can change another's data.
  """
  return _load_once(name, data_dir, download)


@functools.lru_cache(maxsize=2)
def _load_once(name: str, data_dir: str | None, download: bool) -> Dataset:
  if name == 'digits':
    data = _digits()
  elif name.startswith('image_folder:'):
    data = _image_folder(name.removeprefix('image_folder:'))
  elif not name or ':' in name:
    raise errors.InputError(f'Unknown dataset {name!r}; valid forms: {", ".join(NAME_FORMS)}.')
  else:
    data = _tfds(name, data_dir, download)
  for split in (data.train, data.test):
    for array in split.values():
      array.setflags(write=False)
  return data
