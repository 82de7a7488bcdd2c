"""The ``tf_data`` input path: K seeds' training batches gathered and augmented by tf.data.

For data that does not fit an accelerator, or hosts where the accelerator should do nothing but
train. A :class:`~datadiet.data.train_order.TrainOrder` decides every step's positions and
augmentation draws; tf.data gathers those images from host memory, applies the draws (reflect
padding, crop, flip: two batched gathers) on its own threads and prefetches, so the batches
equal the device path's bit for bit. Batches are ``image`` uint8 ``(K, B, H, W, C)``, ``label``
``(K, B)`` and ``index`` ``(K, B)``; the jitted step normalises them.

This module imports TensorFlow (hidden from the GPUs); nothing else in ``datadiet`` does at
import time.
"""

from __future__ import annotations

import numpy as np

from datadiet import optional_deps
from datadiet.data import augment
from datadiet.data.train_order import TrainOrder

tf = optional_deps.import_tensorflow()  # On the CPU: the accelerators are JAX's.


def _crop_and_flip(images: tf.Tensor, offsets: tf.Tensor, flips: tf.Tensor) -> tf.Tensor:
  """``augment.crop_and_flip`` in TensorFlow, for a flat batch ``(N, H, W, C)``."""
  height, width = images.shape[1], images.shape[2]
  pad = augment.PAD_PIXELS
  padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode='REFLECT')
  rows = offsets[:, :1] + tf.range(height)[None]
  columns = tf.range(width)[None]
  columns = tf.where(flips[:, None], width - 1 - columns, columns) + offsets[:, 1:]
  cropped = tf.gather(padded, rows, axis=1, batch_dims=1)
  return tf.gather(cropped, columns, axis=2, batch_dims=1)


def train_stream(images: np.ndarray, labels: np.ndarray, order: TrainOrder, start_step: int,
                 num_steps: int, prefetch: int = 2) -> tf.data.Dataset:
  """Batches for steps ``[start_step, start_step + num_steps)`` of ``order``'s seeds.

  Args:
    images: the full training split's uint8 images ``(N, H, W, C)``.
    labels: the labels to train on, ``(N,)`` (noisy ones with label noise).
    order: which positions and augmentation each step uses.
    start_step, num_steps: the steps to produce (resume from ``start_step``).
  """
  image_table = tf.constant(images)
  label_table = tf.constant(np.asarray(labels, np.int32))
  num_seeds, batch_size = len(order.seeds), order.batch_size
  signature = {'index': tf.TensorSpec((num_seeds, batch_size), tf.int32)}
  if order.augment:
    signature['offset'] = tf.TensorSpec((num_seeds, batch_size, 2), tf.int32)
    signature['flip'] = tf.TensorSpec((num_seeds, batch_size), tf.bool)
  plans = tf.data.Dataset.from_generator(lambda: order.batches(start_step, num_steps),
                                         output_signature=signature)

  def realise(plan):
    flat = tf.reshape(plan['index'], [-1])
    batch = tf.gather(image_table, flat)
    if order.augment:
      batch = _crop_and_flip(batch, tf.reshape(plan['offset'], [-1, 2]),
                             tf.reshape(plan['flip'], [-1]))
    return {'image': tf.reshape(batch, [num_seeds, batch_size, *images.shape[1:]]),
            'label': tf.gather(label_table, plan['index']), 'index': plan['index']}

  options = tf.data.Options()
  options.deterministic = True
  return (plans.map(realise, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
          .with_options(options).prefetch(prefetch))
