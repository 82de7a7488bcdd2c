"""Examples read from disk by position, never held whole in memory: the ``stream`` input path.

For data that does not fit in host memory (ImageNet: 1.28M variable-size JPEGs). A streamed
split (:func:`datadiet.data.sources.index`) holds only ids, labels and where each example's
encoded image lies: a file of an image folder, or a record of a TFDS dataset prepared in the
ArrayRecord format (random access). Each step's positions come from the same
:class:`~datadiet.data.train_order.TrainOrder` as the in-memory paths, so a batch is a pure function
of ``(data_seed, seed, step)`` and streaming changes a run's speed, not its results.

Reading, decoding (Pillow, the in-memory loader's decoder: the same pixels), resizing and the
random-resized crop run a few batches ahead of the step on reader threads or reader processes
(:mod:`datadiet.data.image_reader`; ``config.runtime.stream_workers``). Not tf.data: on 2 CPU
cores its thread pools slowed the jitted training step that shares the cores to 0.62× of the
in-memory rate, where reader threads keep it at 0.92× (``bench/streaming.py``); and image
folders stream without TensorFlow. A file that cannot be read or decoded stops the run with one
line naming it.

Transforms, per example (:mod:`datadiet.data.image_ops`):

* evaluation and scoring: with ``image_size``, the shorter side to ``image_size / 0.875``
  (bilinear, antialiased) and the central ``image_size`` square; without, the image as stored
  (every image must then have one size);
* training: that image with the paper's pad-crop-flip (``augment='pad_crop_flip'``; its draws
  travel with the batch and the jitted step applies them, as on the device path), or the
  ImageNet random-resized crop and flip from the stored image (``'resized_crop_flip'``,
  :mod:`datadiet.data.resized_crop`), or none.

Multi-process runs read only the rows of each batch that their own devices hold
(:func:`local_rows`), so every process decodes a different share of a scoring pass.

Example (``stats`` from :func:`channel_stats`, ``sharding`` the evaluation batches' sharding;
a script reading on processes guards its entry point with ``if __name__ == '__main__':``)::

  data = sources.index('image_folder:/data/imagenet', image_size=224)
  data = dataclasses.replace(data, reader=dict(data.reader, workers='processes'))  # or threads
  examples = StreamedExamples(reader_for(data), data.train['location'], data.train['label'],
                              stats)
  for batch in examples.batches(256, sharding=sharding):   # this process's rows' images
    placed = examples.place(batch, sharding)
"""

from __future__ import annotations

import collections
from collections.abc import Iterator, Mapping

import jax
import numpy as np
from absl import logging

from datadiet import batching, errors, multihost
from datadiet.data import dataset, image_reader, normalization, resized_crop, train_order
from datadiet.data.image_reader import ImageReader
from datadiet.data.normalization import ChannelStats
from datadiet.data.train_order import TrainOrder

def reader_for(data) -> ImageReader:
  """The image reader of a streamed :class:`~datadiet.data.dataset.Dataset`."""
  return ImageReader(data.reader, data.image_shape)


def _read_batches(plans, read, reader: ImageReader) -> Iterator[np.ndarray]:
  return image_reader.read_batches(plans, read, reader.image_shape, reader.workers,
                                   count=reader.readers)


def _in_order(reader: ImageReader, locations: np.ndarray,
              batch_size: int) -> Iterator[np.ndarray]:
  """The images at ``locations`` as evaluation reads them, in batches, in order."""
  plans = ([(location,) for location in locations[i:i + batch_size]]
           for i in range(0, len(locations), batch_size))
  return _read_batches(plans, reader.evaluation, reader)


def read_all(reader: ImageReader, locations: np.ndarray, batch_size: int = 256) -> np.ndarray:
  """Every image at ``locations``, decoded and fixed in size, in order: uint8 ``(N, ...)``."""
  out = list(_in_order(reader, locations, batch_size))
  return np.concatenate(out) if out else np.zeros((0, *reader.image_shape), np.uint8)


_STATS_CACHE: dict = {}


def channel_stats(reader: ImageReader, locations: np.ndarray,
                  batch_size: int = 256) -> ChannelStats:
  """Per-channel mean and std of the images at ``locations`` as evaluation reads them: one pass,
  memory bounded by a batch; computed once per process."""
  key = (tuple(sorted(reader.reader.items())), reader.image_shape, len(locations),
         str(locations[0]), str(locations[-1]))
  if key not in _STATS_CACHE:
    count, sums, squares = 0, 0, 0
    for batch in _in_order(reader, locations, batch_size):
      pixels = batch.reshape(-1, batch.shape[-1]).astype(np.int64)
      count += len(pixels)
      sums = sums + pixels.sum(0)
      squares = squares + (pixels * pixels).sum(0)
    _STATS_CACHE[key] = normalization.stats_from_sums(count, sums, squares)
  return _STATS_CACHE[key]


def local_rows(sharding: jax.sharding.Sharding, shape: tuple[int, ...]) -> np.ndarray:
  """Flat indices (over ``shape``, the leading batch axes) of the cells this process's devices
  hold under ``sharding``, sorted: what this process must read of a batch."""
  cells = set()
  for index in sharding.addressable_devices_indices_map(shape).values():
    ranges = [range(*s.indices(n)) for s, n in zip(index, shape)]
    grid = np.stack(np.meshgrid(*[np.array(r) for r in ranges], indexing='ij'), -1)
    cells.update(np.ravel_multi_index(grid.reshape(-1, len(shape)).T, shape).tolist())
  return np.array(sorted(cells), np.int64)


def rows_to_device(values: np.ndarray, rows: np.ndarray, shape: tuple[int, ...],
                   sharding: jax.sharding.Sharding) -> jax.Array:
  """A global array of leading shape ``shape`` whose cells ``rows`` (flat, sorted) are
  ``values``, which is all this process holds of it (see :func:`local_rows`)."""
  global_shape = tuple(shape) + values.shape[1:]

  def shard(index):
    ranges = [np.arange(*s.indices(n)) for s, n in zip(index[:len(shape)], shape)]
    flat = np.ravel_multi_index(np.meshgrid(*ranges, indexing='ij'), shape)
    local = values[np.searchsorted(rows, flat)]
    return local[(Ellipsis,) + tuple(index[len(shape):])] if len(index) > len(shape) else local
  return jax.make_array_from_callback(global_shape, sharding, shard)


class StreamedExamples:
  """A streamed split as evaluation and scoring passes read it (``feed.Examples``' interface):
  fixed order, padded batches; each process reads only the rows its devices hold."""

  def __init__(self, reader: ImageReader, locations: np.ndarray, labels: np.ndarray,
               stats: ChannelStats):
    self.reader = reader
    self.locations = np.asarray(locations)
    self.labels = np.asarray(labels, np.int32)
    self.stats = stats
    self.table = {}

  def __len__(self) -> int:
    return len(self.labels)

  def batches(self, batch_size: int, extra: Mapping[str, np.ndarray] | None = None,
              sharding: jax.sharding.Sharding | None = None,
              start_batch: int = 0) -> Iterator[dict[str, np.ndarray]]:
    """Host batches from batch ``start_batch`` on: ``label``, ``mask`` and ``extra`` whole,
    ``image`` only for this process's rows under ``sharding`` (every row without one); place
    them with :meth:`place`."""
    rows = (np.arange(batch_size) if sharding is None
            else local_rows(sharding, (batch_size,)))
    logging.info('Streaming %d examples: process %d reads %d of every %d.', len(self),
                 jax.process_index(), len(rows), batch_size)
    positions = np.arange(len(self), dtype=np.int64)
    first = start_batch * batch_size
    arrays = dict({k: v[first:] for k, v in (extra or {}).items()}, label=self.labels[first:],
                  position=positions[first:])
    plans = list(batching.padded_batches(arrays, batch_size))

    # Padding rows read example 0 again (masked out).
    reads = ([(location,) for location in self.locations[plan['position'][rows]]]
             for plan in plans)
    images = _read_batches(reads, self.reader.evaluation, self.reader)
    for plan, local in zip(plans, images):
      plan.pop('position')
      yield dict(plan, image=local, _rows=rows)

  @staticmethod
  def place(batch: Mapping[str, np.ndarray], sharding: jax.sharding.Sharding):
    """``batch`` on the devices: its ``image`` rows from this process, the rest from every."""
    rest = {k: v for k, v in batch.items() if k not in ('image', '_rows')}
    placed = multihost.to_device(rest, sharding)
    placed['image'] = rows_to_device(batch['image'], batch['_rows'], batch['mask'].shape,
                                     sharding)
    return placed


def train_stream(reader: ImageReader, locations: np.ndarray, labels: np.ndarray,
                 order: TrainOrder, augmentation: str, start_step: int, num_steps: int,
                 sharding: jax.sharding.Sharding) -> Iterator[dict[str, jax.Array]]:
  """Placed raw training batches (``image`` ``(K, B, *image_shape)``, ``label``, ``index``, and
  for ``pad_crop_flip`` its ``offset``/``flip`` draws, applied by
  :func:`datadiet.data.feed.raw_inputs` in the step) for steps ``[start_step, start_step +
  num_steps)`` of ``order``; this process reads its cells only."""
  if augmentation not in train_order.AUGMENTATIONS:
    raise errors.InputError(f'Unknown augmentation {augmentation!r}; valid: '
                            f'{", ".join(train_order.AUGMENTATIONS)}.')
  if order.augment != (augmentation == 'pad_crop_flip'):  # The order carries those draws.
    raise errors.InputError(f'augmentation {augmentation!r} with a TrainOrder of '
                            f'augment={order.augment}; pad_crop_flip needs augment=True.')
  shape = (len(order.seeds), order.batch_size)
  rows = local_rows(sharding, shape)
  logging.info('Streaming training batches: process %d reads %d of every %d.',
               jax.process_index(), len(rows), int(np.prod(shape)))
  locations, labels = np.asarray(locations), np.asarray(labels, np.int32)
  steps = collections.deque()  # (positions, device-side draws) of the steps being read.

  def reads():
    for step in range(start_step, start_step + num_steps):
      on_device = order.batch(step)  # Fixed-size images' pad-crop-flip draws: for the step.
      index = on_device.pop('index')
      steps.append((index, on_device))
      where = locations[index.reshape(-1)[rows]]
      if augmentation == 'resized_crop_flip':  # Crops need the stored image: on the host.
        draws = [resized_crop.draw(order.data_seed, s, step, order.batch_size)
                 for s in order.seeds]
        attempts = np.concatenate([d['attempts'] for d in draws])[rows]
        flips = np.concatenate([d['flip'] for d in draws])[rows]
        yield [(w, augmentation, a, bool(f)) for w, a, f in zip(where, attempts, flips)]
      else:
        yield [(w, augmentation) for w in where]

  for local in _read_batches(reads(), reader.training, reader):
    index, on_device = steps.popleft()
    batch = multihost.to_device({'label': labels[index], 'index': index, **on_device}, sharding)
    batch['image'] = rows_to_device(local, rows, shape, sharding)
    yield batch


def materialise(streamed: dataset.Dataset) -> dataset.Dataset:
  """A streamed dataset read whole into memory through the streaming reader (the same decoding
  and resizing): in-memory runs of data that only streaming can read as stored."""
  splits = {}
  for split_name, split in (('train', streamed.train), ('test', streamed.test)):
    images = read_all(reader_for(streamed), split['location'])
    splits[split_name] = {'image': images, 'label': split['label'], 'id': split['id']}
  return dataset.Dataset(streamed.name, splits['train'], splits['test'],
                         num_classes=streamed.num_classes, class_names=streamed.class_names)
