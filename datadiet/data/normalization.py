"""Per-channel normalisation ``(x / 255 − mean) / std``, shared by every input path.

It runs inside the jitted steps (on uint8 images, which also makes host-to-device copies 4×
smaller); :func:`normalize` is the same formula for NumPy and JAX arrays. The statistics are
measured on the training images (:func:`channel_stats`, or :func:`stats_from_sums` from a
streaming pass) or given in the config (:func:`checked_stats`). NumPy only: no TensorFlow.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from datadiet import errors


@dataclasses.dataclass(frozen=True)
class ChannelStats:
  """Per-channel mean and standard deviation of the training images, in [0, 1] units."""
  mean: tuple[float, ...]
  std: tuple[float, ...]


def channel_stats(images: np.ndarray) -> ChannelStats:
  """Mean and std per channel of uint8 images ``(N, H, W, C)``."""
  x = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
  return ChannelStats(tuple(x.mean(0).tolist()), tuple(np.maximum(x.std(0), 1e-8).tolist()))


def checked_stats(given, channels: int) -> ChannelStats:
  """``ChannelStats`` from ``((mean per channel), (std per channel))`` in [0, 1] units, checked
  against the images' ``channels``.

  Raises:
    InputError: not two sequences of ``channels`` numbers, or a std that is not positive.
  """
  try:
    mean, std = (tuple(float(v) for v in part) for part in given)
  except (TypeError, ValueError):
    mean = std = None
  if mean is None or len(mean) != channels or len(std) != channels or min(std) <= 0:
    example = ('((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)) for ImageNet' if channels == 3
               else '((0.5,), (0.25,))')
    raise errors.InputError(
        f'config.data.channel_stats must be ((mean per channel), (std per channel)) for the '
        f"images' {channels} channel(s), stds positive, in [0, 1] units (e.g. {example}); got "
        f'{given!r}. Leave it () to measure them on the training images.')
  return ChannelStats(mean, std)


def stats_from_sums(count: int, sums: np.ndarray, squares: np.ndarray) -> ChannelStats:
  """Channel statistics from a pixel ``count`` and per-channel sums of uint8 values and of their
  squares (exact integers): what a streaming pass accumulates."""
  mean = np.asarray(sums, np.float64) / count
  var = np.asarray(squares, np.float64) / count - mean**2
  std = np.sqrt(np.maximum(var, 0)) / 255.0
  return ChannelStats(tuple((mean / 255.0).tolist()), tuple(np.maximum(std, 1e-8).tolist()))


def normalize(images, stats: ChannelStats):
  """uint8 images → float32 ``(x / 255 − mean) / std``, for NumPy arrays and (traced) JAX arrays
  alike."""
  scale = np.float32(1 / 255.0)
  mean = np.asarray(stats.mean, np.float32)
  std = np.asarray(stats.std, np.float32)
  return (images.astype(np.float32) * scale - mean) / std
