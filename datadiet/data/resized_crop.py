"""The ImageNet training augmentation: random-resized crop and flip, from stateless draws.

As for the paper's CIFAR augmentation (:mod:`datadiet.data.augment`), the random draws are
apart from their application, so a batch is a pure function of ``(data_seed, seed, step)``:
:func:`draw` makes, per example, ten candidate crops as uniforms in [0, 1) (area fraction,
log aspect ratio, top, left) and a flip, with no knowledge of the image's size. The size is
known only once the image is decoded (ImageNet's vary), where :func:`box` (NumPy, the reference)
or :func:`box_tf` (in a tf.data map) turns them into a crop as torchvision's
``RandomResizedCrop`` does: the first candidate of area in [8%, 100%] of the image and aspect
ratio in [3/4, 4/3] that fits, else a centre crop of the clamped aspect ratio.
:func:`crop_resize_flip_tf` then crops, resizes to the training size and flips.

Example::

  draws = draw(data_seed=0, seed=3, step=17, batch_size=256)       # host, per batch
  top, left, h, w = box(375, 500, draws['attempts'][0])             # per image
"""

from __future__ import annotations

import math

import numpy as np

SCALE = (0.08, 1.0)  # Of the image's area.
RATIO = (3 / 4, 4 / 3)  # Width over height.
ATTEMPTS = 10
_STREAM = 2  # Keeps these draws apart from the epoch permutations' and augment.draw's.


def draw(data_seed: int, seed: int, step: int, batch_size: int) -> dict[str, np.ndarray]:
  """``attempts`` ``(batch_size, 10, 4)`` float64 uniforms and ``flip`` ``(batch_size,)`` bool
  for one seed's batch at ``step``; a pure function of its arguments."""
  rng = np.random.default_rng([data_seed, seed, step, _STREAM])
  attempts = rng.random((batch_size, ATTEMPTS, 4))
  return {'attempts': attempts, 'flip': rng.random(batch_size) < 0.5}


def _candidate(height: int, width: int, uniforms) -> tuple[int, int, int, int]:
  area_u, ratio_u, top_u, left_u = uniforms
  area = height * width * (SCALE[0] + area_u * (SCALE[1] - SCALE[0]))
  log_ratio = math.log(RATIO[0]) + ratio_u * (math.log(RATIO[1]) - math.log(RATIO[0]))
  aspect = math.exp(log_ratio)
  w = int(np.round(math.sqrt(area * aspect)))
  h = int(np.round(math.sqrt(area / aspect)))
  return h, w, int(math.floor(top_u * (height - h + 1))), int(math.floor(left_u * (width - w + 1)))


def box(height: int, width: int, attempts: np.ndarray) -> tuple[int, int, int, int]:
  """``(top, left, crop height, crop width)`` for an image of ``height × width`` from one
  example's ``attempts`` (torchvision's algorithm; the plain reference)."""
  for uniforms in attempts:
    h, w, top, left = _candidate(height, width, uniforms)
    if 0 < w <= width and 0 < h <= height:
      return top, left, h, w
  ratio = width / height  # No candidate fits: a centre crop of the clamped aspect ratio.
  if ratio < RATIO[0]:
    w, h = width, int(np.round(width / RATIO[0]))
  elif ratio > RATIO[1]:
    h, w = height, int(np.round(height * RATIO[1]))
  else:
    h, w = height, width
  return (height - h) // 2, (width - w) // 2, h, w


def box_tf(tf, height, width, attempts):
  """:func:`box` in TensorFlow, for a tf.data map (``height``, ``width`` int32 scalars,
  ``attempts`` ``(10, 4)`` float64); returns int32 ``(top, left, h, w)``."""
  height_f, width_f = tf.cast(height, tf.float64), tf.cast(width, tf.float64)
  area = height_f * width_f * (SCALE[0] + attempts[:, 0] * (SCALE[1] - SCALE[0]))
  log_ratio = math.log(RATIO[0]) + attempts[:, 1] * (math.log(RATIO[1]) - math.log(RATIO[0]))
  aspect = tf.exp(log_ratio)
  w = tf.round(tf.sqrt(area * aspect))
  h = tf.round(tf.sqrt(area / aspect))
  fits = (w > 0) & (w <= width_f) & (h > 0) & (h <= height_f)
  first = tf.argmax(tf.cast(fits, tf.int32))  # The first that fits (0 if none: see below).
  top = tf.floor(attempts[first, 2] * (height_f - h[first] + 1))
  left = tf.floor(attempts[first, 3] * (width_f - w[first] + 1))
  ratio = width_f / height_f
  fallback_w = tf.where(ratio > RATIO[1], tf.round(height_f * RATIO[1]), width_f)
  fallback_h = tf.where(ratio < RATIO[0], tf.round(width_f / RATIO[0]), height_f)
  any_fits = tf.reduce_any(fits)
  h = tf.where(any_fits, h[first], fallback_h)
  w = tf.where(any_fits, w[first], fallback_w)
  top = tf.where(any_fits, top, tf.floor((height_f - h) / 2))
  left = tf.where(any_fits, left, tf.floor((width_f - w) / 2))
  return tuple(tf.cast(v, tf.int32) for v in (top, left, h, w))


def crop_resize_flip_tf(tf, image, attempts, flip, size: int):
  """One decoded uint8 image ``(H, W, C)``: the :func:`box_tf` crop, resized to ``size × size``
  (bilinear, antialiased) and flipped when ``flip``; uint8."""
  shape = tf.shape(image)
  top, left, h, w = box_tf(tf, shape[0], shape[1], attempts)
  crop = image[top:top + h, left:left + w]
  resized = tf.image.resize(crop, [size, size], method='bilinear', antialias=True)
  resized = tf.cond(flip, lambda: resized[:, ::-1], lambda: resized)
  return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
