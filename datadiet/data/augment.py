"""The paper's augmentation: reflect-pad by 4 pixels, random crop back to size, random flip; and
test-time augmentation (airbench's averaged views).

The random draws and their application are separate. :func:`draw` makes each example's crop
offset (0..8 in each direction) and flip from stateless NumPy seeds ``(data_seed, seed, step)``,
on the host, next to the step's positions: both input paths apply the *same* draws, so a run's
augmented images do not depend on whether tf.data or the accelerator realises them, nor on the
backend or the number of devices. :func:`crop_and_flip` applies them in JAX (inside the jitted
step of the device input path); :func:`crop_and_flip_numpy` is the plain reference; the tf.data
stream applies them with TensorFlow ops.

airbench's variant (``data.max_translate=2``, ``data.flip='alternating'``) changes only the draws:
a crop that moves at most ``r`` pixels is an offset in ``[4 − r, 4 + r]`` of the same 4-pixel
reflect padding (its inner ``r`` rings are the ``r``-pixel padding), and the alternating flip
(:func:`alternating_flips`) flips each image in epoch 0 by a draw of its own, then alternates:
the opposite way in odd epochs, as in epoch 0 in even ones. Every input path applies them
unchanged.

Example::

  offsets, flips = draw(data_seed=0, seed=3, step=17, batch_size=128)
  images = crop_and_flip(uint8_images, offsets, flips)   # (128, H, W, C), same dtype
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from datadiet import errors

PAD_PIXELS = 4
MAX_OFFSET = 2 * PAD_PIXELS  # A crop starts 0..8 pixels into the padded image.
_STREAM = 1  # Keeps these draws apart from the epoch permutations' seeds.
_FLIP_SALT = 2  # Keeps the alternating flip's hash apart from other uses of the seeds.
FLIPS = ('random', 'alternating')


def draw(data_seed: int, seed: int, step: int, batch_size: int,
         max_translate: int = PAD_PIXELS) -> tuple[np.ndarray, np.ndarray]:
  """Crop offsets ``(batch_size, 2)`` int32 in ``[4 − max_translate, 4 + max_translate]``
  (rows, columns; ``[0, 8]`` by default) and random flips ``(batch_size,)`` bool for one seed's
  batch at ``step``; a pure function of its arguments."""
  rng = np.random.default_rng([data_seed, seed, step, _STREAM])
  offsets = rng.integers(0, 2 * max_translate + 1, size=(batch_size, 2), dtype=np.int32)
  flips = rng.random(batch_size) < 0.5
  return offsets + np.int32(PAD_PIXELS - max_translate), flips


def _mix64(values: np.ndarray) -> np.ndarray:
  """SplitMix64's finaliser: a well-mixed 64-bit hash of each uint64 (wrapping arithmetic).

  A hash rather than ``default_rng([...])`` as the other draws use: a position's first-epoch
  flip must not depend on how many positions the split has (a subset and the full set flip an
  image alike), and one vectorised hash per batch costs microseconds where a generator per
  example would cost milliseconds."""
  z = values.astype(np.uint64)
  with np.errstate(over='ignore'):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
  return z ^ (z >> np.uint64(31))


def alternating_flips(data_seed: int, seed: int, positions: np.ndarray,
                      epochs: np.ndarray) -> np.ndarray:
  """airbench's alternating flip: the example at each of ``positions`` (into the training split)
  flips in epoch 0 by a draw of its own, pure in ``(data_seed, seed, position)``, and in epoch
  ``e`` as in epoch 0 when ``e`` is even, the opposite way when odd. Every image is therefore
  seen both ways in any two consecutive epochs."""
  salt = (data_seed * 0x9E3779B97F4A7C15 + seed + _FLIP_SALT) % 2**64  # Python ints: no overflow.
  key = _mix64(np.array([salt], np.uint64))
  with np.errstate(over='ignore'):
    first = (_mix64(np.asarray(positions).astype(np.uint64) + key) >> np.uint64(63)) == 1
  return first ^ (np.asarray(epochs) % 2 == 1)


TEST_AUGMENTATIONS = ('none', 'flip', 'flip_translate')


def check_test_augment(test_augment: str) -> None:
  """Raises an InputError naming the valid test-time augmentations unless ``test_augment`` is
  one."""
  if test_augment not in TEST_AUGMENTATIONS:
    raise errors.InputError(f'config.data.test_augment must be one of '
                            f'{", ".join(TEST_AUGMENTATIONS)}; got {test_augment!r}.')


def averaged_logits(apply_fn, images: jax.Array, test_augment: str) -> jax.Array:
  """The test-time-augmented logits: ``apply_fn``'s logits of each of :func:`test_views`'s
  views, weighted (``apply_fn(images)`` itself for ``'none'``)."""
  return sum(weight * apply_fn(view) for weight, view in test_views(images, test_augment))


def test_views(images: jax.Array, test_augment: str) -> list[tuple[float, jax.Array]]:
  """``[(weight, view)]`` whose weighted logits are the test-time-augmented prediction for a
  normalised batch ``(B, H, W, C)`` (airbench's levels 0, 1, 2): ``'none'`` the image;
  ``'flip'`` it and its mirror image, ½ each; ``'flip_translate'`` those ¼ each plus the image
  moved one pixel down-right and one pixel up-left (reflect padding), each with its mirror
  image, ⅛ each. Weights sum to 1."""
  check_test_augment(test_augment)
  mirror = lambda x: x[:, :, ::-1]  # noqa: E731
  if test_augment == 'none':
    return [(1.0, images)]
  if test_augment == 'flip':
    return [(0.5, images), (0.5, mirror(images))]
  height, width = images.shape[1:3]
  padded = jnp.pad(images, [(0, 0), (1, 1), (1, 1), (0, 0)], mode='reflect')
  down_right, up_left = padded[:, :height, :width], padded[:, 2:, 2:]
  return [(0.25, images), (0.25, mirror(images)), (0.125, down_right),
          (0.125, mirror(down_right)), (0.125, up_left), (0.125, mirror(up_left))]


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
