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

import contextlib
import dataclasses
import functools
import hashlib
import importlib
import io
import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from absl import logging

from datadiet import errors, optional_deps

# What a message about an unreadable image asks for: removing it changes the dataset, which a
# relaunch into the same workdir refuses (workdir.check_dataset).
REPLACE_IT = 'replace it with a readable copy (or remove it and start a new workdir).'
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
  # Streamed datasets (:func:`index`): no ``image`` in the splits but each example's
  # ``location`` (a file path, or ``<split>:<record>`` of a TFDS ArrayRecord dataset), how to
  # read them (``reader``), and the shape every image is read at.
  reader: dict[str, Any] = dataclasses.field(default_factory=dict)
  image_shape: tuple[int, ...] = ()

  @property
  def streamed(self) -> bool:
    """Whether the images stay on disk (read by :mod:`datadiet.data.streaming`)."""
    return 'image' not in self.train


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


def _tfds_to_arrays(tfds, dataset, image_key: str, label_key: str,
                    id_fn) -> dict[str, np.ndarray]:
  images, labels, ids = [], [], []
  for batch in tfds.as_numpy(dataset.batch(1024)):
    images.append(batch[image_key])
    labels.append(batch[label_key].astype(np.int32))
    ids.extend(id_fn(batch))
  if not images:
    raise errors.InputError('The split holds no examples.')
  return _sorted_by_id({'image': np.concatenate(images), 'label': np.concatenate(labels),
                        'id': np.array(ids)})


def decode_image(encoded: bytes) -> np.ndarray:
  """Encoded image bytes (any format Pillow reads; JPEGs with libjpeg's accurate integer DCT,
  Pillow's default) → uint8 ``(H, W)`` grey or ``(H, W, 3)`` colour pixels. Raises ``OSError``
  or ``ValueError`` for bytes that are no readable image. The one decoder of every input path,
  in memory and streamed."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  with Image.open(io.BytesIO(encoded)) as image:
    if image.mode.startswith('I;16'):  # 16-bit grey: keep the 8 high bits, as TF's uint8.
      return (np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8)
    if image.mode in ('I', 'F'):
      raise ValueError(f'{image.mode!r} (32-bit) pixels have no uint8 reading')
    if image.mode not in ('L', 'RGB'):
      image = image.convert('RGB')  # Palette, alpha, CMYK: as RGB.
    return np.asarray(image)


def _decode(path: Path) -> np.ndarray:
  try:
    return decode_image(path.read_bytes())
  except (OSError, ValueError) as e:  # Pillow's UnidentifiedImageError is an OSError.
    raise errors.InputError(f'image_folder: cannot decode {path} ({image_error_reason(e)}); '
                            + REPLACE_IT) from e


def _read_images(root: str, files: list[Path]) -> np.ndarray:
  """Decodes ``files`` into one uint8 array. One thread: for small images Python's overhead, not
  the decoder, is the cost, and threads only contend for the GIL (CIFAR-10's 60,000 JPEGs:
  3.6 s serial against 6.6 s on 2 threads, 2 CPU cores)."""
  images = [_decode(f) for f in files]
  sizes = [image.shape[:2] for image in images]
  common = max(set(sizes), key=sizes.count)
  odd = next((f, size) for f, size in zip(files, sizes) if size != common) if len(
      set(sizes)) > 1 else None
  if odd:
    raise errors.InputError(
        f'image_folder: {odd[0]} is {odd[1][0]}×{odd[1][1]} but the most common size in {root!r} '
        f'is {common[0]}×{common[1]} ({len(set(sizes))} sizes in all); set '
        'config.data.image_size to read every image resized to one size, or resize them.')
  if any(image.ndim == 3 for image in images):  # Some colour: grey ones become RGB too.
    images = [image if image.ndim == 3 else np.repeat(image[..., None], 3, -1)
              for image in images]
  else:
    images = [image[..., None] for image in images]
  return np.stack(images)


def _split_listing(split_dir: Path) -> list[str]:
  """``<class>/<file>`` of every image under ``split_dir``, by (class, file): plain strings from
  ``os.scandir`` (a million ``Path`` objects would take hundreds of MB)."""
  names = []
  if split_dir.is_dir():  # Classes in order, files in order within each: no sort keys.
    for class_name in sorted(d.name for d in os.scandir(split_dir) if d.is_dir()):
      names += [f'{class_name}/{file}' for file in sorted(
          entry.name for entry in os.scandir(split_dir / class_name)
          if os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES and entry.is_file())]
  return names


def _folder_listing(root: str) -> tuple[dict[str, list[str]], tuple[str, ...]]:
  """``({split: '<class>/<file>' of its images, sorted}, class names)`` of an image folder, its
  layout checked."""
  root_path = Path(root)
  if not root_path.is_dir():
    where = '' if root_path.is_absolute() else f' (from {Path.cwd()})'
    raise errors.MissingInputError(f'image_folder: no directory at {root!r}{where}; expected '
                                   '<path>/<split>/<class>/<image files> (give it as '
                                   '--config.data.name=image_folder:<path>).')
  files = {}
  for split in ('train', 'test'):
    files[split] = _split_listing(root_path / split)
    if not files[split]:
      raise errors.InputError(
          f'image_folder: {root!r} has no images in {split}/<class>/ (looked for '
          f'{", ".join(IMAGE_SUFFIXES)} files); expected <path>/<split>/<class>/<image files> '
          'for the splits train and test.')
  class_of = lambda names: {name.split('/', 1)[0] for name in names}  # noqa: E731
  unseen = sorted(class_of(files['test']) - class_of(files['train']))
  if unseen:
    raise errors.InputError(
        f'image_folder: {root!r} has test images of classes with no training images: {unseen}; '
        'add training images of them or remove them from test/.')
  # As tfds.ImageFolder: every class folder of every split, sorted, is a label.
  class_names = tuple(sorted({d.name for split in files for d in (root_path / split).iterdir()
                              if d.is_dir()}))
  if len(class_names) < 2:
    raise errors.InputError(
        f'image_folder: {root!r} has {len(class_names)} class; need at least 2.')
  return files, class_names


def _image_folder(root: str) -> Dataset:
  listing, class_names = _folder_listing(root)
  files = {split: [Path(root) / split / name for name in names]
           for split, names in listing.items()}
  label_of = {name: label for label, name in enumerate(class_names)}

  def load_split(split):
    paths = files[split]
    return _sorted_by_id({
        'image': _read_images(root, paths),
        'label': np.array([label_of[p.parent.name] for p in paths], np.int32),
        'id': np.array([f'{p.parent.name}/{p.name}' for p in paths])})

  train, test = load_split('train'), load_split('test')
  if train['image'].shape[1:] != test['image'].shape[1:]:  # A model takes one input shape.
    shape = lambda a: '×'.join(map(str, a['image'].shape[1:]))  # noqa: E731
    raise errors.InputError(
        f'image_folder: the test images of {root!r} are {shape(test)} (e.g. '
        f'{files["test"][0]}) but the training images are {shape(train)}; resize them to one '
        'size.')
  return Dataset(f'image_folder:{root}', train, test, num_classes=len(class_names),
                 class_names=class_names)


def _channels_of(paths: list[Path]) -> tuple[int, tuple[int, int]]:
  """``(channels, (height, width) of the first)`` from a few images: 3 if any is in colour (the
  in-memory loader's rule, applied to the first image of each class)."""
  images = [_decode(p) for p in paths]
  return (3 if any(i.ndim == 3 for i in images) else 1), images[0].shape[:2]


def image_error_reason(error: Exception) -> str:
  """Why Pillow cannot read an image, for a one-line message (without its object reprs)."""
  from PIL import UnidentifiedImageError  # pylint: disable=g-import-not-at-top
  if isinstance(error, UnidentifiedImageError):
    return 'not an image format Pillow reads'
  return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _check_headers(root: str, paths: Iterable[Path], size: tuple[int, int] | None) -> None:
  """Every file's header is an image's (and, given ``size``, of that size): a file that is no
  image stops the run before any work, not when a batch first reads it. Headers only: ~30 µs a
  file (CIFAR-10's 60,000 in 1.7 s, page-cached); a file damaged after its header is found when
  read, with one line naming it."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  for path in paths:
    try:
      with Image.open(path) as image:  # Reads the header only.
        found = (image.height, image.width)
    except OSError as e:  # Pillow's UnidentifiedImageError is an OSError.
      raise errors.InputError(f'image_folder: cannot read {path} ({image_error_reason(e)}); '
                              + REPLACE_IT) from None
    if size is not None and found != tuple(size):
      raise errors.InputError(
          f'image_folder: {path} is {found[0]}×{found[1]} but the first image of {root!r} is '
          f'{size[0]}×{size[1]}; set config.data.image_size to read every image resized to one '
          'size, or resize them to one size.')


def _index_image_folder(root: str, image_size: int | None) -> Dataset:
  files, class_names = _folder_listing(root)
  label_of = {name: label for label, name in enumerate(class_names)}
  firsts = {}  # The first image of each class, classes in order.
  for name in files['train']:
    firsts.setdefault(name[:name.index('/')], name)
  channels, stored = _channels_of([Path(root) / 'train' / name for name in firsts.values()])
  splits = {}
  for split, names in files.items():
    splits[split] = _sorted_by_id({
        'label': np.array([label_of[name[:name.index('/')]] for name in names], np.int32),
        'id': np.array(names),
        # Relative to the root, as UTF-8 bytes: a quarter of a str array's memory.
        'location': np.array([f'{split}/{name}'.encode() for name in names])})
    files[split] = None  # The strings are in the arrays now.
  # Before any work: every file an image, and without image_size, all of the first's size.
  _check_headers(root, (Path(root) / location.decode() for split in splits.values()
                        for location in split['location']), None if image_size else stored)
  size = (image_size, image_size) if image_size else stored
  return Dataset(f'image_folder:{root}', splits['train'], splits['test'],
                 num_classes=len(class_names), class_names=class_names,
                 reader={'kind': 'image_folder', 'root': str(Path(root).resolve()),
                         'image_size': image_size},
                 image_shape=(*size, channels))


@contextlib.contextmanager
def _few_download_retries(retries: int = 2):
  """TFDS retries a failed request 10 times with exponential backoff: minutes of waiting on a
  machine without internet before any error. Two retries still ride out a flaky connection."""
  downloader = importlib.import_module('tensorflow_datasets.core.download.downloader')
  default = getattr(downloader, 'MAX_RETRIES', None)
  if default is None:  # Another TFDS version: leave it as it is.
    yield
    return
  downloader.MAX_RETRIES = retries
  try:
    yield
  finally:
    downloader.MAX_RETRIES = default


def _placing_help(name: str, root: Path) -> str:
  return (f'Prepare it on a machine with internet (`tfds build {name} --data_dir=<dir>`), copy '
          f'<dir>/{name} to {root / name}, and pass --config.data.dir={root}; or use an '
          'image_folder:<path> copy of the images.')


def _prepared_builder(name: str, data_dir: str | None, download: bool, streamed: bool = False):
  tfds = optional_deps.import_tfds(name)
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise errors.InputError(
        f'Unknown dataset {name!r}; valid forms: {", ".join(NAME_FORMS)}.') from e
  version_dir = Path(builder.data_dir)  # <data_dir>/<name>/<version>
  root = version_dir.parents[1]
  if not builder.is_prepared() and streamed:  # TFDS would prepare TFRecords: not streamable.
    raise errors.MissingInputError(
        f'TFDS dataset {name!r} is not in {version_dir}. Streaming reads it by position: '
        f'prepare it in the ArrayRecord format (`tfds build {name} --file_format=array_record '
        f'--data_dir={root}`, on a machine with internet if needed), or use an '
        'image_folder:<path> copy.')
  if not builder.is_prepared():
    if not download:
      raise errors.MissingInputError(
          f'TFDS dataset {name!r} is not in {version_dir} and downloading is off. '
          + _placing_help(name, root))
    try:
      with _few_download_retries():
        builder.download_and_prepare()
    except Exception as e:  # No internet, no space, a broken cache: say what to do instead.
      if isinstance(e, OSError):
        errors.raise_if_unwritable(e, version_dir)  # A full disk or read-only place says so.
      raise errors.MissingInputError(
          f'TFDS could not download {name!r} into {version_dir} ({type(e).__name__}: '
          f'{str(e).splitlines()[0] if str(e) else ""}). ' + _placing_help(name, root)) from e
  return tfds, builder


def _is_array_record(builder) -> bool:
  return 'array_record' in str(builder.info.file_format).lower()


def _tfds(name: str, data_dir: str | None, download: bool) -> Dataset:
  tfds, builder = _prepared_builder(name, data_dir, download)
  if _is_array_record(builder):  # Read only by position: through the streaming reader.
    return materialise(_index_tfds(name, data_dir, download, None))
  image_key, label_key = builder.info.supervised_keys or ('image', 'label')
  read_config = tfds.ReadConfig(add_tfds_id=True)
  tfds_ids = lambda batch: [i.decode() for i in batch['tfds_id']]
  load_split = lambda split: _tfds_to_arrays(
      tfds, builder.as_dataset(split=split, shuffle_files=False, read_config=read_config),
      image_key, label_key, tfds_ids)
  label_feature = builder.info.features[label_key]
  return Dataset(name, load_split('train'), load_split('test'),
                 num_classes=label_feature.num_classes,
                 class_names=tuple(getattr(label_feature, 'names', ())))


def _array_record_ids(builder, split: str) -> np.ndarray:
  """TFDS ids of an ArrayRecord split in record order: ``<shard file>__<index in shard>``, the
  form ``add_tfds_id`` gives."""
  ids = []
  for instruction in builder.info.splits[split].file_instructions:
    base = Path(instruction.filename).name
    ids += [f'{base}__{i}' for i in range(instruction.skip, instruction.skip + instruction.take)]
  return np.array(ids)


def _read_labels(source, label_key: str) -> np.ndarray:
  """Every record's label, in record order: chunks of 4,096 records, images left encoded. The
  records' image bytes are read too (a pass over the whole split on disk)."""
  records = list(range(len(source)))
  return np.concatenate([
      np.array([row[label_key] for row in source.__getitems__(records[i:i + 4096])], np.int32)
      for i in range(0, len(records), 4096)] or [np.zeros(0, np.int32)])


LABELS_CACHE = 'datadiet_labels.{split}.npz'


def _cached_labels(builder, split: str, read) -> np.ndarray:
  """``read()`` (a split's labels in record order), once per prepared dataset: the labels are
  kept beside its files (``LABELS_CACHE`` in its version folder), valid while the split's record
  files keep their names, sizes and modification times. Reading them means reading the whole
  split (ImageNet: ~140 GB), which a launch, and every host of a multi-host one, would otherwise
  repeat. A folder that cannot be written is left alone (the labels are read every launch)."""
  paths = [Path(builder.data_dir) / Path(i.filename).name
           for i in builder.info.splits[split].file_instructions]
  try:
    stamp = json.dumps([[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in paths])
  except OSError:  # The files moved under us: TFDS will say so when reading them.
    return read()
  cache = Path(builder.data_dir) / LABELS_CACHE.format(split=split)
  try:
    with np.load(cache, allow_pickle=False) as saved:
      if str(saved['stamp']) == stamp:
        return saved['labels']
  except (OSError, KeyError, ValueError):  # None yet, or unreadable: read the labels again.
    pass
  labels = read()
  # Every process that read them writes its own temporary file and renames it (the same bytes):
  # no barrier, since processes may find the cache at different times.
  tmp = cache.with_name(f'.{cache.name}.{uuid.uuid4().hex}.tmp')  # Unique across hosts.
  try:
    with open(tmp, 'wb') as f:
      np.savez(f, stamp=np.array(stamp), labels=labels)
    tmp.replace(cache)
  except OSError as e:
    tmp.unlink(missing_ok=True)
    logging.warning('Could not keep the labels of %s/%s in %s (%s); they are read from the '
                    'records on every launch.', builder.name, split, cache, e)
  return labels


def _index_tfds(name: str, data_dir: str | None, download: bool,
                image_size: int | None) -> Dataset:
  tfds, builder = _prepared_builder(name, data_dir, download, streamed=True)
  if not _is_array_record(builder):
    raise errors.InputError(
        f'TFDS dataset {name!r} is stored as {builder.info.file_format}, which can only be read '
        'in order; streaming reads examples by position. Prepare it in the ArrayRecord format '
        f'(`tfds build {name} --file_format=array_record --data_dir=<dir>`, or convert it: '
        f'`tfds convert_format --root_data_dir=<dir> --out_file_format=array_record`), or use an '
        'image_folder:<path> copy.')
  image_key, label_key = builder.info.supervised_keys or ('image', 'label')
  image_feature = builder.info.features[image_key]
  splits = {}
  for split in ('train', 'test'):
    source = builder.as_data_source(split=split,
                                    decoders={image_key: tfds.decode.SkipDecoding()})
    records = np.arange(len(source), dtype=np.int64)
    labels = _cached_labels(builder, split, lambda: _read_labels(source, label_key))
    splits[split] = _sorted_by_id({'label': labels, 'id': _array_record_ids(builder, split),
                                   'location': np.char.encode(
                                       np.array([f'{split}:{r}' for r in records]), 'ascii')})
  channels = image_feature.shape[-1] or 3
  stored = tuple(image_feature.shape[:2])
  if image_size is None and None in stored:
    raise errors.InputError(
        f'TFDS dataset {name!r} has images of varying size; set config.data.image_size to '
        'read them resized and centre-cropped to one size.')
  label_feature = builder.info.features[label_key]
  return Dataset(name, splits['train'], splits['test'], num_classes=label_feature.num_classes,
                 class_names=tuple(getattr(label_feature, 'names', ())),
                 reader={'kind': 'tfds', 'name': name, 'data_dir': data_dir,
                         'image_size': image_size},
                 image_shape=((image_size, image_size) if image_size else stored) + (channels,))


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
    data = _index_image_folder(name.removeprefix('image_folder:'), image_size)
  elif not name or ':' in name:
    raise errors.InputError(f'Unknown dataset {name!r}; valid forms: {", ".join(NAME_FORMS)}.')
  else:
    data = _index_tfds(name, data_dir, download, image_size)
  for split in (data.train, data.test):
    for array in split.values():
      array.setflags(write=False)
  return data


def materialise(streamed: Dataset) -> Dataset:
  """A streamed dataset read whole into memory through the streaming reader (the same decoding
  and resizing): in-memory runs of data that only streaming can read as stored."""
  from datadiet.data import streaming  # pylint: disable=g-import-not-at-top
  splits = {}
  for split_name, split in (('train', streamed.train), ('test', streamed.test)):
    images = streaming.read_all(streaming.reader_for(streamed), split['location'])
    splits[split_name] = {'image': images, 'label': split['label'], 'id': split['id']}
  return Dataset(streamed.name, splits['train'], splits['test'],
                 num_classes=streamed.num_classes, class_names=streamed.class_names)


def fingerprint(data: Dataset) -> dict[str, Any]:
  """What identifies ``data``'s examples: its name, the size of each split and a SHA-256 of
  every id and label in order. A workdir keeps it, so that a relaunch notices a dataset that
  changed under its run (an image removed or added, labels moved between classes)."""
  digest = hashlib.sha256()
  for split in (data.train, data.test):
    digest.update(np.asarray(split['id']).astype(str).tobytes())
    digest.update(np.asarray(split['label'], np.int64).tobytes())
  return {'name': data.name, 'train_examples': int(len(data.train['id'])),
          'test_examples': int(len(data.test['id'])), 'sha256': digest.hexdigest()}


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
    data = materialise(index(name, data_dir, download, image_size))
  elif name == 'digits':
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
