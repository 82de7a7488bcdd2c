"""How examples reach the jitted steps: the input path (``tf_data`` or ``device``) and the one
function that turns a raw batch into model inputs inside the step.

* ``device`` — the uint8 split and its labels live on the accelerator, replicated on every device
  of the mesh (CIFAR-10's training set is 150 MB). Each step sends only the positions and
  augmentation draws (a few KB); the gather, crop, flip and normalisation run inside the jitted
  step. Evaluation and scoring read device-resident copies of their splits the same way.
* ``tf_data`` — tf.data gathers and augments on host threads (:mod:`datadiet.data.tf_stream`)
  and sends uint8 batches; for data that does not fit the accelerator's memory. Needs
  TensorFlow.
* ``stream`` — the images never enter memory whole: each step reads, decodes, resizes and
  augments the examples it trains on from disk (:mod:`datadiet.data.streaming`), each process
  only those its devices hold; for data that does not fit in host memory. Image folders need
  nothing more (Pillow, on Python threads); TFDS datasets need TFDS.
* ``auto`` — ``device`` when the train and test images fit ``device_data_max_fraction`` of one
  accelerator's memory (GPU/TPU) or on a CPU (where "device" memory is host memory), else
  ``tf_data``.

Every path realises the same :class:`~datadiet.data.train_order.TrainOrder`, so the path changes
the speed of a run, not its batches.

Example::

  examples = feed.Examples.create(data.test['image'], data.test['label'], stats, mesh, 'device')
  for batch in examples.batches(1000):   # host dicts; `examples.table` holds the device copy
    images, labels = feed.model_inputs(batch, examples.table, stats)   # inside jit
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import jax
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from datadiet import batching, errors, multihost, optional_deps
from datadiet.device_memory import device_memory_bytes
from datadiet.data import augment, dataset, image_reader, normalization, train_order
from datadiet.data.normalization import ChannelStats, normalize
from datadiet.data.train_order import TrainOrder

INPUT_PIPELINES = ('auto', 'device', 'tf_data', 'stream')
_NEEDS_TF = ('tf_data',)


def resolve(input_pipeline: str, data_bytes: int, max_fraction: float = 0.25,
            device: jax.Device | None = None) -> str:
  """``'device'`` or ``'tf_data'`` for ``input_pipeline`` and ``data_bytes`` of uint8 images.

  Raises:
    InputError: an unknown name, or a path this environment cannot run.
  """
  if input_pipeline not in INPUT_PIPELINES:
    raise errors.InputError(f'Unknown input_pipeline {input_pipeline!r}; valid: '
                            f'{", ".join(INPUT_PIPELINES)}.')
  if not 0 < max_fraction <= 1:
    raise errors.InputError(f'device_data_max_fraction must be in (0, 1], got {max_fraction}: '
                            'the share of one accelerator\'s memory the images may take.')
  has_tf = optional_deps.tensorflow_available()
  if input_pipeline in _NEEDS_TF and not has_tf:
    raise errors.InputError(f"input_pipeline={input_pipeline!r} needs TensorFlow, which is not "
                            f"installed; {optional_deps.INSTALL_HINT}, or use "
                            "input_pipeline='device'.")
  if input_pipeline != 'auto':
    return input_pipeline
  device = device or jax.local_devices()[0]
  capacity = device_memory_bytes(device)
  if capacity is None or data_bytes <= max_fraction * capacity:
    return 'device'
  if has_tf:
    return 'tf_data'
  raise errors.InputError(
      f'The images ({data_bytes / 2**30:.1f} GiB) exceed device_data_max_fraction='
      f'{max_fraction} of the {device.platform} memory ({capacity / 2**30:.1f} GiB), and the '
      f'tf_data path needs TensorFlow, which is not installed: {optional_deps.INSTALL_HINT}, '
      'or raise device_data_max_fraction.')


def check_config(config: ml_collections.ConfigDict) -> None:
  """Refuses an input path, augmentation or stream setting of ``config`` that the others rule
  out (before the dataset is read)."""
  augmentation = train_order.augmentation_of(config.data.augment)
  streamed = config.runtime.input_pipeline == 'stream'
  if augmentation == 'resized_crop_flip' and not (streamed and config.data.image_size):
    raise errors.InputError(
        "config.data.augment='resized_crop_flip' crops each stored image before resizing it to "
        "data.image_size: set --config.runtime.input_pipeline=stream and "
        '--config.data.image_size=<pixels>, or use pad_crop_flip.')
  train_order.crop_flip_options(config.data)
  augment.check_test_augment(config.data.get('test_augment', 'none'))
  resolve(config.runtime.input_pipeline, 0, config.runtime.device_data_max_fraction)
  image_reader.check_workers(config.runtime.stream_workers)
  if not streamed and (config.runtime.stream_workers != 'auto' or config.runtime.stream_readers):
    raise errors.InputError(
        'config.runtime.stream_workers and stream_readers set how the stream path reads, but '
        f'config.runtime.input_pipeline is {config.runtime.input_pipeline!r}: add '
        '--config.runtime.input_pipeline=stream, or leave them at auto and 0.')


# The measured statistics of the last two datasets, by identity: every run of a pipeline (each
# subset retrained, each analysis) normalises by the whole training split's, measured once per
# process (CIFAR-10 in memory: 8 s of host time, 2 cores; streamed: a pass over the files).
_MEASURED: dict[int, tuple[dataset.Dataset, ChannelStats]] = {}


def channel_stats_for(config, data: dataset.Dataset) -> ChannelStats:
  """``config.data.channel_stats`` when given, else measured on the training images (one pass
  over them when streamed), once per dataset whose images cannot change (streamed, or
  read-only arrays: every dataset :mod:`datadiet.data.sources` returns)."""
  given = config.data.channel_stats
  if given:
    return normalization.checked_stats(given, data.image_shape[-1] if data.streamed
                                       else data.train['image'].shape[-1])
  measured = _MEASURED.get(id(data))
  if measured is not None and measured[0] is data:
    return measured[1]
  if data.streamed:
    from datadiet.data import streaming  # pylint: disable=g-import-not-at-top
    stats = streaming.channel_stats(streaming.reader_for(data), data.train['location'])
  else:
    stats = normalization.channel_stats(data.train['image'])
  if data.streamed or not data.train['image'].flags.writeable:
    while len(_MEASURED) >= 2:
      _MEASURED.pop(next(iter(_MEASURED)))
    _MEASURED[id(data)] = (data, stats)
  return stats


def fit_images(data: dataset.Dataset, positions: np.ndarray, count: int,
               stats: ChannelStats) -> np.ndarray:
  """``min(count, len(positions))`` training images among ``positions``, spread evenly over them
  in dataset order, normalised: what a model fitted to data (airbench's whitening) is fitted to;
  read from disk when streamed. (airbench takes CIFAR-10's first 5,000, whose classes come in
  random order; an image folder lists its classes one after another.)"""
  kept = np.sort(np.asarray(positions))
  take = min(count, len(kept))
  chosen = kept[np.arange(take) * len(kept) // take]
  if data.streamed:
    from datadiet.data import streaming  # pylint: disable=g-import-not-at-top
    images = streaming.read_all(streaming.reader_for(data), data.train['location'][chosen])
  else:
    images = data.train['image'][chosen]
  return normalize(images, stats)


def device_table(images: np.ndarray, labels: np.ndarray, mesh: Mesh) -> dict[str, jax.Array]:
  """A split's uint8 images and int32 labels, one copy on every device of ``mesh``."""
  arrays = {'image': images, 'label': np.asarray(labels, np.int32)}
  return multihost.to_device(arrays, NamedSharding(mesh, P()))


def raw_inputs(batch: Mapping[str, Any],
               table: Mapping[str, Any]) -> tuple[jax.Array, jax.Array]:
  """``(uint8 images, labels)`` of a raw batch (jit-able).

  A raw batch carries either the uint8 ``image`` and ``label`` themselves (host paths) or only
  ``index`` into the device copy ``table``; ``offset``/``flip`` (the pad-crop-flip draws), when
  the batch carries them, are applied here (to images gathered from the table, or streamed).
  """
  if 'image' in batch:  # Host paths; the stream path leaves the crop and flip to the device.
    images, labels = batch['image'], batch['label']
  else:
    images, labels = table['image'][batch['index']], table['label'][batch['index']]
  if 'offset' in batch:
    images = augment.crop_and_flip(images, batch['offset'], batch['flip'])
  return images, labels


def model_inputs(batch: Mapping[str, Any], table: Mapping[str, Any],
                 stats: ChannelStats) -> tuple[jax.Array, jax.Array]:
  """``(images normalised to float32, labels)`` of a raw batch, inside a jitted step. Models
  cast the float32 images to their compute dtype."""
  images, labels = raw_inputs(batch, table)
  return normalize(images, stats), labels


def train_batches(input_pipeline: str, data: dataset.Dataset, labels: np.ndarray,
                  order: TrainOrder, start_step: int, num_steps: int, sharding: NamedSharding,
                  augmentation: str = 'none') -> tuple[dict[str, jax.Array], Iterator[Any]]:
  """``(table, batches)`` for the training step: the device copy (empty unless ``device``) and
  the raw batches for steps ``[start_step, start_step + num_steps)``, placed with ``sharding``
  (the engine's: seeds over its ``seeds`` axis, examples over ``data``). ``augmentation`` is
  realised by the ``stream`` path; the in-memory paths take the pad-crop-flip draws from
  ``order``."""
  if input_pipeline == 'stream':
    from datadiet.data import streaming  # pylint: disable=g-import-not-at-top
    return {}, streaming.train_stream(streaming.reader_for(data), data.train['location'],
                                      labels, order, augmentation, start_step, num_steps,
                                      sharding)
  images = data.train['image']
  if input_pipeline == 'device':
    table = device_table(images, labels, sharding.mesh)
    host = order.batches(start_step, num_steps)
  else:
    from datadiet.data import tf_stream  # pylint: disable=g-import-not-at-top  (TensorFlow)
    table = {}
    host = tf_stream.train_stream(images, labels, order, start_step,
                                  num_steps).as_numpy_iterator()
  return table, (multihost.to_device(batch, sharding) for batch in host)


def examples_for(data: dataset.Dataset, split: Mapping[str, np.ndarray], stats: ChannelStats,
                 mesh: Mesh, input_pipeline: str):
  """``split`` (a split of ``data``, or a subset of one, with its labels) as evaluation and
  scoring passes read it: :class:`Examples`, or streamed from disk."""
  if input_pipeline == 'stream':
    from datadiet.data import streaming  # pylint: disable=g-import-not-at-top
    return streaming.StreamedExamples(streaming.reader_for(data), split['location'],
                                      split['label'], stats)
  return Examples.create(split['image'], split['label'], stats, mesh, input_pipeline)


@dataclasses.dataclass(frozen=True)
class Examples:
  """A split as evaluation and scoring passes read it, in fixed order and padded batches.

  ``table`` is its device copy (``device`` path) or empty (host batches carry the images).
  """
  images: np.ndarray  # uint8 (N, H, W, C), host
  labels: np.ndarray
  stats: ChannelStats
  table: dict[str, jax.Array]

  @classmethod
  def create(cls, images: np.ndarray, labels: np.ndarray, stats: ChannelStats, mesh: Mesh,
             input_pipeline: str) -> 'Examples':
    """Puts the split on ``mesh`` when ``input_pipeline`` is ``'device'``."""
    labels = np.asarray(labels, np.int32)
    table = device_table(images, labels, mesh) if input_pipeline == 'device' else {}
    return cls(images, labels, stats, table)

  def __len__(self) -> int:
    return len(self.labels)

  def batches(self, batch_size: int, extra: Mapping[str, np.ndarray] | None = None,
              sharding: NamedSharding | None = None,
              start_batch: int = 0) -> Iterator[dict[str, np.ndarray]]:
    """Host batches from batch ``start_batch`` on, with ``mask`` (and ``extra`` per-example
    arrays): positions into the device copy, or the uint8 images and labels themselves. Every
    process holds them whole (``sharding`` is for the interface of streamed examples)."""
    del sharding
    arrays = dict(extra or {})
    if self.table:
      arrays['index'] = np.arange(len(self), dtype=np.int32)
    else:
      arrays.update(image=self.images, label=self.labels)
    first = start_batch * batch_size
    return batching.padded_batches({k: v[first:] for k, v in arrays.items()}, batch_size)

  @staticmethod
  def place(batch: Mapping[str, np.ndarray], sharding: NamedSharding) -> dict[str, jax.Array]:
    """A host batch on the devices."""
    return multihost.to_device(dict(batch), sharding)

