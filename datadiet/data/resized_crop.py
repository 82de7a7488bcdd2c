"""The ImageNet training augmentation: random-resized crop and flip, from stateless draws.

As for the paper's CIFAR augmentation (:mod:`datadiet.data.augment`), the random draws are
apart from their application, so a batch is a pure function of ``(data_seed, seed, step)``:
:func:`draw` makes, per example, ten candidate crops as uniforms in [0, 1) (area fraction,
log aspect ratio, top, left) and a flip, with no knowledge of the image's size. The size is
known only once the image is decoded (ImageNet's vary), where :func:`box` turns them into a
crop as torchvision's ``RandomResizedCrop`` does: the first candidate of area in [8%, 100%] of
the image and aspect ratio in [3/4, 4/3] that fits, else a centre crop of the clamped aspect
ratio. :func:`crop_resize_flip` then crops, resizes to the training size and flips.

Example::

  draws = draw(data_seed=0, seed=3, step=17, batch_size=256)       # host, per batch
  top, left, h, w = box(375, 500, draws['attempts'][0])             # per image
"""

from __future__ import annotations

import math

import numpy as np

from datadiet.data import image_ops

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


def crop_resize_flip(image: np.ndarray, attempts: np.ndarray, flip: bool,
                     size: int) -> np.ndarray:
  """One decoded uint8 image ``(H, W, C)``: the :func:`box` crop (torchvision's
  ``resized_crop``: crop, then resize), resized to ``size × size``
  (:func:`datadiet.data.image_ops.resize`) and mirrored when ``flip``; uint8."""
  top, left, h, w = box(image.shape[0], image.shape[1], attempts)
  out = image_ops.resize(image[top:top + h, left:left + w], size, size)
  return np.ascontiguousarray(out[:, ::-1]) if flip else out
