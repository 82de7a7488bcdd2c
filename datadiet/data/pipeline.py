"""tf.data pipelines: K per-seed training streams over a subset of ids, and padded evaluation.

Training. Each seed walks its own endless stream of the kept examples: epoch ``e`` of seed ``s``
is a permutation drawn from ``(data_seed, s, e)``, and the stream is cut into fixed-size batches
(a batch may straddle two epochs, so every kept example appears exactly once per epoch and none
is dropped). Step ``t``'s batch is a pure function of ``(data_seed, seed, t)``, so a resumed run
sees exactly the batches an uninterrupted run would. Augmentation (the paper's: 4-pixel reflect
padding, random crop back to size, random horizontal flip) draws from stateless seeds
``(data_seed, seed, t, position)``, so it is deterministic too. Batches come as
``image (K, B, H, W, C)`` float32 normalised per channel, ``label (K, B)`` and ``index (K, B)``,
the position of each example in the full training split (for forgetting statistics).

Evaluation. :func:`eval_batches` pads the last batch and carries a ``mask``.

Example::

  stats = channel_stats(data.train['image'])
  stream = train_stream(data.train, keep_positions, seeds=[0, 1, 2, 3], batch_size=128,
                        data_seed=0, start_step=0, num_steps=1000, stats=stats)
  for batch in stream.as_numpy_iterator(): ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import tensorflow as tf

from datadiet import batching, errors

PAD_PIXELS = 4


@dataclasses.dataclass(frozen=True)
class ChannelStats:
  """Per-channel mean and standard deviation of the training images, in [0, 1] units."""
  mean: tuple[float, ...]
  std: tuple[float, ...]


def channel_stats(images: np.ndarray) -> ChannelStats:
  """Mean and std per channel of uint8 images ``(N, H, W, C)``."""
  x = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
  return ChannelStats(tuple(x.mean(0).tolist()), tuple(np.maximum(x.std(0), 1e-8).tolist()))


def normalize(images, stats: ChannelStats):
  """uint8 images → float32 ``(x / 255 − mean) / std``; works on NumPy and TF tensors."""
  scale = np.float32(1 / 255.0)
  mean = np.asarray(stats.mean, np.float32)
  std = np.asarray(stats.std, np.float32)
  if isinstance(images, np.ndarray):
    return (images.astype(np.float32) * scale - mean) / std
  return (tf.cast(images, tf.float32) * scale - mean) / std


def epoch_permutation(positions: np.ndarray, data_seed: int, seed: int, epoch: int) -> np.ndarray:
  """The order in which ``seed`` visits ``positions`` during ``epoch``."""
  return positions[np.random.default_rng([data_seed, seed, epoch]).permutation(len(positions))]


def step_positions(positions: np.ndarray, data_seed: int, seed: int, step: int,
                   batch_size: int) -> np.ndarray:
  """The ``batch_size`` positions that ``seed`` trains on at ``step`` (pure in its arguments)."""
  num = len(positions)
  start = step * batch_size
  first_epoch, last_epoch = start // num, (start + batch_size - 1) // num
  stream = np.concatenate([epoch_permutation(positions, data_seed, seed, e)
                           for e in range(first_epoch, last_epoch + 1)])
  offset = start - first_epoch * num
  return stream[offset:offset + batch_size]


def _index_batches(positions: np.ndarray, seeds: Sequence[int], batch_size: int, data_seed: int,
                   start_step: int, num_steps: int) -> Iterator[tuple[int, np.ndarray]]:
  for step in range(start_step, start_step + num_steps):
    yield step, np.stack([step_positions(positions, data_seed, s, step, batch_size)
                          for s in seeds]).astype(np.int32)


def _augment(image, seed):
  """Reflect-pad by 4, random crop back to size, random horizontal flip (stateless)."""
  height, width = image.shape[0], image.shape[1]
  padded = tf.pad(image, [[PAD_PIXELS, PAD_PIXELS], [PAD_PIXELS, PAD_PIXELS], [0, 0]],
                  mode='REFLECT')
  crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
  cropped = tf.image.stateless_random_crop(padded, tf.shape(image), seed=crop_seed)
  del height, width
  return tf.image.stateless_random_flip_left_right(cropped, seed=flip_seed)


def train_stream(split: Mapping[str, np.ndarray], positions: np.ndarray, seeds: Sequence[int],
                 batch_size: int, data_seed: int, start_step: int, num_steps: int,
                 stats: ChannelStats, augment: bool = True, labels: np.ndarray | None = None,
                 prefetch: int = 2) -> tf.data.Dataset:
  """Batches for steps ``[start_step, start_step + num_steps)`` of K seeds at once.

  Args:
    split: the full training split (``image``, ``label``).
    positions: positions into ``split`` of the examples to train on (the kept subset).
    seeds: the K seeds; each has its own data order and augmentation.
    batch_size: examples per seed per step.
    data_seed: the run's data seed, mixed into every order and augmentation.
    start_step, num_steps: which steps to produce (resume from ``start_step``).
    stats: per-channel normalisation.
    augment: apply the paper's augmentation.
    labels: labels to train on instead of ``split['label']`` (e.g. with label noise).
  """
  positions = np.asarray(positions, np.int64)
  if len(positions) == 0:
    raise errors.InputError('Cannot train on an empty subset.')
  images = tf.constant(split['image'])
  label_table = tf.constant(split['label'] if labels is None else labels, tf.int32)
  num_seeds = len(seeds)
  seed_table = tf.constant(np.asarray(seeds, np.int64))
  index_ds = tf.data.Dataset.from_generator(
      lambda: _index_batches(positions, seeds, batch_size, data_seed, start_step, num_steps),
      output_signature=(tf.TensorSpec((), tf.int64),
                        tf.TensorSpec((num_seeds, batch_size), tf.int32)))

  def per_example(step, index_batch):
    flat = tf.reshape(index_batch, [-1])
    slot = tf.range(num_seeds * batch_size, dtype=tf.int64)
    seed_of = tf.gather(seed_table, slot // batch_size)
    return tf.data.Dataset.from_tensor_slices((tf.fill([num_seeds * batch_size], step), seed_of,
                                               slot % batch_size, flat))

  def load(step, seed, slot, index):
    image = tf.gather(images, index)
    if augment:
      image = _augment(image, tf.stack([tf.cast(data_seed, tf.int64) * 1_000_003 + seed,
                                        step * 65_536 + slot]))
    return {'image': normalize(image, stats), 'label': tf.gather(label_table, index),
            'index': index}

  def regroup(batch):
    return {key: tf.reshape(value, [num_seeds, batch_size] + value.shape[1:].as_list())
            for key, value in batch.items()}

  options = tf.data.Options()
  options.deterministic = True
  return (index_ds.flat_map(per_example)
          .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
          .batch(num_seeds * batch_size, drop_remainder=True)
          .map(regroup)
          .with_options(options)
          .prefetch(prefetch))


def eval_batches(split: Mapping[str, np.ndarray], batch_size: int,
                 stats: ChannelStats) -> Iterator[dict[str, np.ndarray]]:
  """Padded, normalised evaluation batches with ``mask`` (every example exactly once)."""
  for batch in batching.padded_batches(
      {'image': split['image'], 'label': split['label'],
       'index': np.arange(len(split['label']), dtype=np.int32)}, batch_size):
    batch['image'] = normalize(batch['image'], stats)
    yield batch
