"""A TFDS split read as a stream of batches with stable ids, never held whole in memory.

For data that does not fit in host memory (ImageNet: 1.28M variable-size JPEGs), the split is
read in TFDS's own order (``shuffle_files=False``), decoded and, with ``image_size``, resized
and centre-cropped on tf.data's threads, the scoring and evaluation transform of ImageNet
models: the shorter side to ``image_size / crop_fraction``, then the central ``image_size``
square. Example ``i`` of the split goes to process ``i % process_count`` (``jax.distributed``
runs read disjoint shards), and ``start`` skips the first examples of this process's shard, so a
pass resumes where it stopped without reading what it skips twice over.

Each batch is ``image`` uint8 ``(B, S, S, C)``, ``label`` int32, ``id`` (TFDS ids, as
:mod:`datadiet.data.sources` keys them) and ``mask`` (False for the padding of the last batch).
This module imports TensorFlow; nothing imports it at ``import datadiet`` time.

Example::

  for batch in stream_split('imagenet2012', 'validation', batch_size=256, image_size=224):
    ...
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from datadiet import errors, optional_deps

CROP_FRACTION = 0.875  # 224 / 256, the usual ImageNet evaluation crop.


def _resize_and_crop(tf, image, image_size: int, crop_fraction: float):
  """The shorter side to ``image_size / crop_fraction`` (bilinear), then the central square."""
  shape = tf.shape(image)
  height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
  scale = (image_size / crop_fraction) / tf.minimum(height, width)
  new_height = tf.cast(tf.round(height * scale), tf.int32)
  new_width = tf.cast(tf.round(width * scale), tf.int32)
  resized = tf.image.resize(image, [new_height, new_width], method='bilinear', antialias=True)
  top = (new_height - image_size) // 2
  left = (new_width - image_size) // 2
  cropped = resized[top:top + image_size, left:left + image_size]
  return tf.cast(tf.clip_by_value(tf.round(cropped), 0, 255), tf.uint8)


def stream_split(name: str, split: str, *, batch_size: int, data_dir: str | None = None,
                 image_size: int | None = None, crop_fraction: float = CROP_FRACTION,
                 process_index: int = 0, process_count: int = 1,
                 start: int = 0) -> Iterator[dict[str, np.ndarray]]:
  """Batches of TFDS split ``name/split`` for this process (see the module doc)."""
  if not 0 <= process_index < process_count:
    raise errors.InputError(f'process_index {process_index} is not in [0, {process_count}).')
  if batch_size < 1 or start < 0:
    raise errors.InputError(f'batch_size must be >= 1 and start >= 0, got {batch_size}, {start}.')
  tf = optional_deps.import_tensorflow()
  tfds = optional_deps.import_tfds(name)
  builder = tfds.builder(name, data_dir=data_dir)
  image_key, label_key = builder.info.supervised_keys or ('image', 'label')
  dataset = builder.as_dataset(split=split, shuffle_files=False,
                               read_config=tfds.ReadConfig(add_tfds_id=True))
  dataset = dataset.shard(process_count, process_index).skip(start)

  def prepare(example):
    image = example[image_key]
    if image_size is not None:
      image = _resize_and_crop(tf, image, image_size, crop_fraction)
    return {'image': image, 'label': tf.cast(example[label_key], tf.int32),
            'id': example['tfds_id']}

  dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
  dataset = dataset.batch(batch_size).prefetch(2)
  for batch in tfds.as_numpy(dataset):
    size = len(batch['label'])
    pad = batch_size - size
    out = {'image': batch['image'], 'label': batch['label'],
           'id': np.array([i.decode() for i in batch['id']]), 'mask': np.ones(size, bool)}
    if pad:
      out = {key: np.concatenate([value, np.repeat(value[-1:], pad, axis=0)])
             for key, value in out.items()}
      out['mask'][size:] = False
    yield out
