"""Any TFDS image-classification dataset (``cifar10``, ``cifar100``, …), read from ``data_dir``
(downloaded there first if ``download=True`` and the machine has internet); ids are TFDS ids.

Needs ``tensorflow-datasets`` (``pip install 'datadiet[tf]'``). :func:`load` reads a prepared
dataset into memory through ``tf.data``; :func:`index` lists an ArrayRecord one for streaming by
position, its labels cached beside its files.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging as std_logging
import os
import uuid
from pathlib import Path

import numpy as np

from absl import logging

from datadiet import errors, optional_deps
from datadiet.data import streaming
from datadiet.data.dataset import NAME_FORMS, Dataset, sorted_by_id

def _tfds_to_arrays(tfds, dataset, image_key: str, label_key: str,
                    id_fn) -> dict[str, np.ndarray]:
  images, labels, ids = [], [], []
  for batch in tfds.as_numpy(dataset.batch(1024)):
    images.append(batch[image_key])
    labels.append(batch[label_key].astype(np.int32))
    ids.extend(id_fn(batch))
  if not images:
    raise errors.InputError('The split holds no examples.')
  return sorted_by_id({'image': np.concatenate(images), 'label': np.concatenate(labels),
                        'id': np.array(ids)})


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


@contextlib.contextmanager
def _quiet_tfds():
  """TFDS's log lines (variant folders, dataset generation, download retries), its notices on
  stdout and its progress bars say nothing the run's own messages do not: muted while TFDS
  finds or prepares a dataset (its errors still raise)."""
  verbosity = logging.get_verbosity()
  urllib3 = std_logging.getLogger('urllib3')
  level = urllib3.level
  logging.set_verbosity(logging.ERROR)
  urllib3.setLevel(std_logging.ERROR)
  try:
    with contextlib.redirect_stdout(io.StringIO()):
      yield
  finally:
    logging.set_verbosity(verbosity)
    urllib3.setLevel(level)


def _remove_empty_dirs_made(root: Path, existed: dict[Path, bool]) -> None:
  """Removes the directories under ``root`` that a failed download created and left empty (the
  dataset's, the downloads', ``root`` itself), so a failure leaves nothing behind."""
  for top, was_there in existed.items():
    if was_there or not top.is_dir():
      continue
    for directory, _, _ in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
      with contextlib.suppress(OSError):  # Not empty: something else is there; keep it.
        Path(directory).rmdir()


def _prepared_builder(name: str, data_dir: str | None, download: bool, streamed: bool = False):
  """``(tfds, the builder of name)``, the dataset prepared (downloaded if allowed)."""
  tfds = optional_deps.import_tfds(name)
  tfds.display_progress_bar(False)
  with _quiet_tfds():
    return tfds, _builder(tfds, name, data_dir, download, streamed)


def _builder(tfds, name: str, data_dir: str | None, download: bool, streamed: bool):
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
    existed = {path: path.exists() for path in (root / name, root / 'downloads', root)}
    try:
      with _few_download_retries():
        builder.download_and_prepare()
    except Exception as e:  # No internet, no space, a broken cache: say what to do instead.
      _remove_empty_dirs_made(root, existed)
      if isinstance(e, OSError):
        errors.raise_if_unwritable(e, version_dir)  # A full disk or read-only place says so.
      raise errors.MissingInputError(
          f'TFDS could not download {name!r} into {version_dir} ({type(e).__name__}: '
          f'{str(e).splitlines()[0] if str(e) else ""}). ' + _placing_help(name, root)) from e
  return builder


def _is_array_record(builder) -> bool:
  return 'array_record' in str(builder.info.file_format).lower()


def load(name: str, data_dir: str | None, download: bool) -> Dataset:
  """The TFDS dataset ``name`` read whole into memory (an ArrayRecord one through the streaming
  reader)."""
  tfds, builder = _prepared_builder(name, data_dir, download)
  if _is_array_record(builder):  # Read only by position: through the streaming reader.
    return streaming.materialise(index(name, data_dir, download, None))
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


def index(name: str, data_dir: str | None, download: bool, image_size: int | None) -> Dataset:
  """The ArrayRecord TFDS dataset ``name`` without its images, for streaming: ids, labels and
  each example's record (``location``), read at ``image_size`` (or as stored)."""
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
    splits[split] = sorted_by_id({'label': labels, 'id': _array_record_ids(builder, split),
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
