"""Examples read from disk by position, never held whole in memory: the ``stream`` input path.

For data that does not fit in host memory (ImageNet: 1.28M variable-size JPEGs). A streamed
split (:func:`datadiet.data.sources.index`) holds only ids, labels and where each example's
encoded image lies: a file of an image folder, or a record of a TFDS dataset prepared in the
ArrayRecord format (random access). Each step's positions come from the same
:class:`~datadiet.data.pipeline.TrainOrder` as the in-memory paths, so a batch is a pure function
of ``(data_seed, seed, step)`` and streaming changes a run's speed, not its results. Reading,
decoding (JPEGs with libjpeg's accurate DCT, as the in-memory loader), resizing and the
random-resized crop run on tf.data's threads. A file that cannot be read or decoded stops the
run with one line naming it.

Transforms, per example:

* evaluation and scoring: with ``image_size``, the shorter side to ``image_size / 0.875``
  (bilinear, antialiased) and the central ``image_size`` square (:func:`resize_and_crop`);
  without, the image as stored (every image must then have one size);
* training: that image with the paper's pad-crop-flip (``augment='pad_crop_flip'``; its draws
  travel with the batch and the jitted step applies them, as on the device path), or the
  ImageNet random-resized crop and flip from the stored image (``'resized_crop_flip'``,
  :mod:`datadiet.data.resized_crop`), or none.

Multi-process runs read only the rows of each batch that their own devices hold
(:func:`local_rows`), so every process decodes a different share of a scoring pass.

This module imports TensorFlow; nothing imports it at ``import datadiet`` time.

Example::

  data = sources.index('image_folder:/data/imagenet', image_size=224)
  examples = StreamedExamples(reader_for(data), data.train['location'], data.train['label'],
                              stats)
  for batch in examples.batches(256, sharding=sharding):   # this process's rows' images
    placed = examples.place(batch, sharding)
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

import jax
import numpy as np
from absl import logging

from datadiet import batching, errors, multihost, optional_deps
from datadiet.data import pipeline, resized_crop
from datadiet.data.pipeline import ChannelStats, TrainOrder

tf = optional_deps.import_tensorflow()

CROP_FRACTION = 0.875  # 224 / 256, the usual ImageNet evaluation crop.


def resize_and_crop(image, image_size: int, crop_fraction: float = CROP_FRACTION):
  """The shorter side to ``image_size / crop_fraction`` (bilinear, antialiased), then the
  central ``image_size`` square; uint8."""
  shape = tf.shape(image)
  height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
  scale = (image_size / crop_fraction) / tf.minimum(height, width)
  new_height = tf.maximum(tf.cast(tf.round(height * scale), tf.int32), image_size)
  new_width = tf.maximum(tf.cast(tf.round(width * scale), tf.int32), image_size)
  resized = tf.image.resize(image, [new_height, new_width], method='bilinear', antialias=True)
  top = (new_height - image_size) // 2
  left = (new_width - image_size) // 2
  cropped = resized[top:top + image_size, left:left + image_size]
  return tf.cast(tf.clip_by_value(tf.round(cropped), 0, 255), tf.uint8)


def decode(encoded, channels: int):
  """Encoded JPEG/PNG bytes → uint8 ``(H, W, channels)``, the format told by the bytes (not the
  file name); JPEGs with the accurate integer DCT (what Pillow's libjpeg gives the in-memory
  loader)."""
  image = tf.cond(
      tf.io.is_jpeg(encoded),
      lambda: tf.io.decode_jpeg(encoded, channels=channels, dct_method='INTEGER_ACCURATE'),
      lambda: tf.io.decode_image(encoded, channels=channels, expand_animations=False,
                                 dtype=tf.uint8))
  image.set_shape([None, None, channels])
  return image


@functools.lru_cache(maxsize=8)
def _tfds_source(name: str, data_dir: str | None, split: str):
  tfds = optional_deps.import_tfds(name)
  builder = tfds.builder(name, data_dir=data_dir)
  image_key = (builder.info.supervised_keys or ('image', 'label'))[0]
  source = builder.as_data_source(split=split,
                                  decoders={image_key: tfds.decode.SkipDecoding()})
  return source, image_key


class ImageReader:
  """One split's images by location, decoded and transformed, as tf.data maps of one example.

  ``location`` (bytes) is a file path relative to the image folder, or ``<split>:<record>`` of a
  TFDS ArrayRecord dataset.
  """

  def __init__(self, reader: Mapping[str, Any], channels: int, image_shape: tuple[int, ...]):
    self.reader, self.channels, self.image_shape = dict(reader), channels, tuple(image_shape)
    self.image_size = self.reader.get('image_size')  # None: images as stored.

  def describe(self, location) -> str:
    """Where ``location`` is, for a message: the file, or the TFDS record."""
    location = location.decode() if isinstance(location, bytes) else str(location)
    if self.reader['kind'] == 'image_folder':
      return f"{self.reader['root']}/{location}"
    return f"TFDS {self.reader['name']} record {location}"

  def _decoded(self, location):
    if self.reader['kind'] == 'image_folder':  # Locations are relative to the folder.
      encoded = tf.io.read_file(tf.strings.join([self.reader['root'], location], '/'))
    else:
      name, data_dir = self.reader['name'], self.reader.get('data_dir')

      def read(where):
        split, record = where.decode().rsplit(':', 1)
        source, image_key = _tfds_source(name, data_dir, split)
        return source[int(record)][image_key]
      encoded = tf.numpy_function(read, [location], tf.string, stateful=False)
      encoded.set_shape([])
    return decode(encoded, self.channels)

  def _fixed(self, image):
    """The evaluation transform: to ``image_size``, or checked to be the one stored size."""
    if self.image_size is not None:
      return tf.ensure_shape(resize_and_crop(image, self.image_size), self.image_shape)
    return tf.ensure_shape(image, self.image_shape)  # Sizes were checked when indexed.

  def evaluation(self, location):
    """One example's uint8 image for evaluation and scoring."""
    return self._fixed(self._decoded(location))

  def training(self, location, draws: Mapping[str, 'tf.Tensor'], augmentation: str):
    """One example's uint8 training image: random-resized crop and flip with its ``draws``, or
    the evaluation transform (``pad_crop_flip`` follows in the jitted step, as on the device
    path)."""
    image = self._decoded(location)
    if augmentation == 'resized_crop_flip':
      return tf.ensure_shape(resized_crop.crop_resize_flip_tf(
          tf, image, draws['attempts'], draws['flip'], self.image_shape[0]), self.image_shape)
    return self._fixed(image)


def reader_for(data) -> ImageReader:
  """The image reader of a streamed :class:`~datadiet.data.sources.Dataset`."""
  return ImageReader(data.reader, data.image_shape[-1], data.image_shape)


def _in_order(reader: ImageReader, locations: np.ndarray,
              batch_size: int) -> Iterator[np.ndarray]:
  """The images at ``locations`` as evaluation reads them, in batches, in order."""
  chunks = [locations[i:i + batch_size] for i in range(0, len(locations), batch_size)]
  images = _per_example(lambda: iter(chunks), tf.TensorSpec((None,), tf.string),
                        reader.evaluation, batch_size)
  done = 0
  for batch in _numpy(images, reader, lambda: chunks[done]):
    done += 1
    yield batch


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
    _STATS_CACHE[key] = pipeline.stats_from_sums(count, sums, squares)
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


def _per_example(generator, signature, realise, batch_size: int, prefetch: int = 2):
  """Batches of ``realise(one example's plan)`` for the generator's per-batch plans: the plans
  split into examples, read and transformed in parallel (in order) and batched again.
  Per-example tf.data maps cost the least CPU per image (75 µs per CIFAR-10 JPEG read and
  decoded, against 105 µs for a map_fn over each batch; 2 CPU cores), which is what a CPU
  shares with training."""
  options = tf.data.Options()
  options.deterministic = True
  return (tf.data.Dataset.from_generator(generator, output_signature=signature).unbatch()
          .map(realise, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
          .batch(batch_size).with_options(options).prefetch(prefetch))


def _numpy(dataset, reader: 'ImageReader', in_flight) -> Iterator[np.ndarray]:
  """``dataset``'s batches as NumPy; a file that cannot be read or decoded stops the run with
  one line naming it (``in_flight()``: the locations of the batch being read)."""
  iterator = dataset.as_numpy_iterator()
  while True:
    try:
      batch = next(iterator)
    except StopIteration:
      return
    except tf.errors.OpError as e:
      raise errors.InputError(_unreadable(reader, in_flight(), e)) from None
    yield batch


def _unreadable(reader: 'ImageReader', locations, error) -> str:
  first_line = lambda e: (e.message or str(e)).strip().splitlines()[0]  # noqa: E731
  for location in locations:
    try:
      reader.evaluation(tf.constant(location))
    except tf.errors.OpError as e:
      return (f'{reader.describe(location)} cannot be read or decoded ({first_line(e)}); '
              'replace or remove it.')
  return f'Streaming the dataset failed: {first_line(error)}.'


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

    def generator():  # Padding rows read example 0 again (masked out).
      for plan in plans:
        yield self.locations[plan['position'][rows]]
    images = _per_example(generator, tf.TensorSpec((len(rows),), tf.string),
                          self.reader.evaluation, len(rows))
    done = 0
    in_flight = lambda: self.locations[plans[done]['position'][rows]]  # noqa: E731
    for plan, local in zip(plans, _numpy(images, self.reader, in_flight)):
      done += 1
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
  if augmentation not in pipeline.AUGMENTATIONS:
    raise errors.InputError(f'Unknown augmentation {augmentation!r}; valid: '
                            f'{", ".join(pipeline.AUGMENTATIONS)}.')
  if order.augment != (augmentation == 'pad_crop_flip'):  # The order carries those draws.
    raise errors.InputError(f'augmentation {augmentation!r} with a TrainOrder of '
                            f'augment={order.augment}; pad_crop_flip needs augment=True.')
  shape = (len(order.seeds), order.batch_size)
  rows = local_rows(sharding, shape)
  logging.info('Streaming training batches: process %d reads %d of every %d.',
               jax.process_index(), len(rows), int(np.prod(shape)))
  locations, labels = np.asarray(locations), np.asarray(labels, np.int32)
  n = len(rows)
  signature = {'location': tf.TensorSpec((n,), tf.string)}
  if augmentation == 'resized_crop_flip':
    signature.update(attempts=tf.TensorSpec((n, resized_crop.ATTEMPTS, 4), tf.float64),
                     flip=tf.TensorSpec((n,), tf.bool))
  plans = []  # (positions, device-side draws) per step; the consumer pops them in order.

  def generator():
    for step in range(start_step, start_step + num_steps):
      on_device = order.batch(step)  # Fixed-size images' pad-crop-flip draws: for the step.
      index = on_device.pop('index')
      plan = {'location': locations[index.reshape(-1)[rows]]}
      if augmentation == 'resized_crop_flip':  # Crops need the stored image: on the host.
        draws = [resized_crop.draw(order.data_seed, s, step, order.batch_size)
                 for s in order.seeds]
        plan['attempts'] = np.concatenate([d['attempts'] for d in draws])[rows]
        plan['flip'] = np.concatenate([d['flip'] for d in draws])[rows]
      plans.append((index, on_device))
      yield plan

  def realise(plan):
    return reader.training(plan['location'], plan, augmentation)

  images = _per_example(generator, signature, realise, n)
  in_flight = lambda: locations[plans[0][0].reshape(-1)[rows]]  # noqa: E731
  for local in _numpy(images, reader, in_flight):
    index, on_device = plans.pop(0)
    batch = multihost.to_device({'label': labels[index], 'index': index, **on_device}, sharding)
    batch['image'] = rows_to_device(local, rows, shape, sharding)
    yield batch
