"""The training order every input path shares: which examples a step trains on and their
augmentation draws. NumPy only: no TensorFlow.

Each seed walks its own endless stream of the kept examples: epoch ``e`` of seed
``s`` is a permutation drawn from ``(data_seed, s, e)``, and the stream is cut into fixed-size
batches (a batch may straddle two epochs, so every kept example appears exactly once per epoch
and none is dropped). Step ``t``'s positions and augmentation draws are a pure function of
``(data_seed, seed, t)`` (:class:`TrainOrder`), so a resumed run sees exactly the batches an
uninterrupted run would, whichever input path realises them (``tf_stream`` on CPU threads, or
``feed`` on the accelerator from a device-resident copy).

Example::

  order = TrainOrder(keep_positions, seeds=[0, 1, 2, 3], batch_size=128, data_seed=0,
                     augment=True)
  order.batch(step=17)   # {'index': (4, 128) int32, 'offset': (4, 128, 2), 'flip': (4, 128)}
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from datadiet import errors
from datadiet.data import augment as augmentation


AUGMENTATIONS = ('none', 'pad_crop_flip', 'resized_crop_flip')


def augmentation_of(augment) -> str:
  """``config.data.augment`` as one of :data:`AUGMENTATIONS`: ``True`` is the paper's
  ``'pad_crop_flip'`` (reflect-pad 4, random crop, flip), ``False`` is ``'none'``;
  ``'resized_crop_flip'`` is ImageNet's (streamed data only)."""
  if augment is True or augment is False:
    return 'pad_crop_flip' if augment else 'none'
  if augment not in AUGMENTATIONS:
    raise errors.InputError(f'config.data.augment must be True, False or one of '
                            f'{", ".join(AUGMENTATIONS)}; got {augment!r}.')
  return augment


def crop_flip_options(data_config) -> dict:
  """``config.data``'s ``max_translate`` and ``flip`` (pad-crop-flip's draws), checked, as
  :class:`TrainOrder` takes them; the paper's (4, 'random') in configs without them.

  Raises:
    InputError: a translation outside 0..4 pixels, an unknown flip, or either set away from the
      paper's with an augmentation other than pad_crop_flip.
  """
  max_translate = data_config.get('max_translate', augmentation.PAD_PIXELS)
  flip = data_config.get('flip', 'random')
  if (isinstance(max_translate, bool) or not isinstance(max_translate, int)
      or not 0 <= max_translate <= augmentation.PAD_PIXELS):
    raise errors.InputError(f'config.data.max_translate must be an integer number of pixels in '
                            f'[0, {augmentation.PAD_PIXELS}] (airbench: 2), got {max_translate!r}.')
  if flip not in augmentation.FLIPS:
    raise errors.InputError(f'config.data.flip must be one of {", ".join(augmentation.FLIPS)}; '
                            f'got {flip!r}.')
  if ((max_translate, flip) != (augmentation.PAD_PIXELS, 'random')
      and augmentation_of(data_config.augment) != 'pad_crop_flip'):
    raise errors.InputError(
        f"config.data.max_translate and flip shape the pad_crop_flip augmentation, but "
        f"config.data.augment is {data_config.augment!r}: set --config.data.augment=pad_crop_flip, "
        f"or leave them at {augmentation.PAD_PIXELS} and 'random'.")
  return dict(max_translate=max_translate, flip=flip)


def epoch_permutation(positions: np.ndarray, data_seed: int, seed: int, epoch: int) -> np.ndarray:
  """The order in which ``seed`` visits ``positions`` during ``epoch``."""
  return positions[np.random.default_rng([data_seed, seed, epoch]).permutation(len(positions))]


class TrainOrder:
  """Positions and augmentation draws of K seeds' training batches, step by step.

  ``batch(step)`` is a pure function of ``(data_seed, seed, step)`` per seed; epoch permutations
  are cached (each is drawn once per seed, not once per step), so walking the steps in order
  costs a permutation per epoch. ``positions`` is the kept set of every seed, or ``(K, n)``: each
  seed's own kept set (per-seed random subsets), all of one size.
  """

  def __init__(self, positions: np.ndarray, seeds: Sequence[int], batch_size: int,
               data_seed: int, augment: bool = False, max_translate: int = augmentation.PAD_PIXELS,
               flip: str = 'random'):
    self.kept = np.asarray(positions, np.int64)
    if self.kept.shape[-1] == 0:
      raise errors.InputError('Cannot train on an empty subset.')
    self.seeds = [int(s) for s in seeds]
    if self.kept.ndim == 2 and len(self.kept) != len(self.seeds):
      raise errors.InputError(f'{len(self.kept)} per-seed subsets for {len(self.seeds)} seeds.')
    self.batch_size = batch_size
    self.data_seed = data_seed
    self.augment = augment
    self.max_translate = max_translate
    self.flip = flip
    self._epochs: dict[tuple[int, int], np.ndarray] = {}

  def _epoch(self, index: int, epoch: int) -> np.ndarray:
    seed = self.seeds[index]
    key = (seed, epoch)
    if key not in self._epochs:
      if len(self._epochs) > 4 * len(self.seeds):  # Keep about two epochs per seed.
        self._epochs.pop(next(iter(self._epochs)))
      kept = self.kept[index] if self.kept.ndim == 2 else self.kept
      self._epochs[key] = epoch_permutation(kept, self.data_seed, seed, epoch)
    return self._epochs[key]

  def positions(self, step: int) -> np.ndarray:
    """``(K, batch_size)`` int32 positions into the training split at ``step``."""
    num = self.kept.shape[-1]
    start = step * self.batch_size
    first, last = start // num, (start + self.batch_size - 1) // num
    rows = []
    for index in range(len(self.seeds)):
      stream = np.concatenate([self._epoch(index, e) for e in range(first, last + 1)])
      offset = start - first * num
      rows.append(stream[offset:offset + self.batch_size])
    return np.stack(rows).astype(np.int32)

  def epochs(self, step: int) -> np.ndarray:
    """``(batch_size,)``: the epoch each example of ``step``'s batch belongs to (a batch may
    straddle two), the same for every seed."""
    num = self.kept.shape[-1]
    return (step * self.batch_size + np.arange(self.batch_size)) // num

  def batch(self, step: int) -> dict[str, np.ndarray]:
    """``index`` ``(K, B)``, and with augmentation ``offset`` ``(K, B, 2)`` and ``flip``
    ``(K, B)`` (see :mod:`datadiet.data.augment`)."""
    positions = self.positions(step)
    out = {'index': positions}
    if self.augment:
      draws = [augmentation.draw(self.data_seed, s, step, self.batch_size, self.max_translate)
               for s in self.seeds]
      out['offset'] = np.stack([offsets for offsets, _ in draws])
      if self.flip == 'alternating':
        epochs = self.epochs(step)
        out['flip'] = np.stack([augmentation.alternating_flips(self.data_seed, s, row, epochs)
                                for s, row in zip(self.seeds, positions)])
      else:
        out['flip'] = np.stack([flips for _, flips in draws])
    return out

  def batches(self, start_step: int, num_steps: int) -> Iterator[dict[str, np.ndarray]]:
    """:meth:`batch` for steps ``[start_step, start_step + num_steps)``."""
    for step in range(start_step, start_step + num_steps):
      yield self.batch(step)
