"""The paper's augmentation: reflect-pad by 4 pixels, random crop back to size, random flip.

The random draws and their application are separate. :func:`draw` makes each example's crop
offset (0..8 in each direction) and flip from stateless NumPy seeds ``(data_seed, seed, step)``,
on the host, next to the step's positions: both input paths apply the *same* draws, so a run's
augmented images do not depend on whether tf.data or the accelerator realises them, nor on the
backend or the number of devices. :func:`crop_and_flip` applies them in JAX (inside the jitted
step of the device input path); :func:`crop_and_flip_numpy` is the plain reference; the tf.data
stream applies them with TensorFlow ops.

Example::

  offsets, flips = draw(data_seed=0, seed=3, step=17, batch_size=128)
  images = crop_and_flip(uint8_images, offsets, flips)   # (128, H, W, C), same dtype
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

PAD_PIXELS = 4
MAX_OFFSET = 2 * PAD_PIXELS  # A crop starts 0..8 pixels into the padded image.
_STREAM = 1  # Keeps these draws apart from the epoch permutations' seeds.


def draw(data_seed: int, seed: int, step: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
  """Crop offsets ``(batch_size, 2)`` int32 in ``[0, 8]`` (rows, columns) and flips
  ``(batch_size,)`` bool for one seed's batch at ``step``; a pure function of its arguments."""
  rng = np.random.default_rng([data_seed, seed, step, _STREAM])
  offsets = rng.integers(0, MAX_OFFSET + 1, size=(batch_size, 2), dtype=np.int32)
  flips = rng.random(batch_size) < 0.5
  return offsets, flips


def crop_and_flip(images: jax.Array, offsets: jax.Array, flips: jax.Array) -> jax.Array:
  """Applies :func:`draw`'s offsets and flips to a batch ``(B, H, W, C)`` (jit-able)."""
  height, width = images.shape[1:3]
  pad = [(0, 0), (PAD_PIXELS, PAD_PIXELS), (PAD_PIXELS, PAD_PIXELS), (0, 0)]
  padded = jnp.pad(images, pad, mode='reflect')

  def crop(image, offset):
    return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0),
                                 (height, width, image.shape[-1]))

  cropped = jax.vmap(crop)(padded, offsets)
  return jnp.where(flips[:, None, None, None], cropped[:, :, ::-1], cropped)


def crop_and_flip_numpy(images: np.ndarray, offsets: np.ndarray,
                        flips: np.ndarray) -> np.ndarray:
  """The plain reference of :func:`crop_and_flip`, one image at a time."""
  height, width = images.shape[1:3]
  out = np.empty_like(images)
  for i, (image, (row, col), flip) in enumerate(zip(images, offsets, flips)):
    padded = np.pad(image, [(PAD_PIXELS, PAD_PIXELS), (PAD_PIXELS, PAD_PIXELS), (0, 0)],
                    mode='reflect')
    crop = padded[row:row + height, col:col + width]
    out[i] = crop[:, ::-1] if flip else crop
  return out
