"""Fixed-size padded batches with a validity mask, and scoring whole in-memory datasets.

Every batch has the same shape, so a jitted score function compiles once; the last partial batch
is padded with zeros and ``mask`` marks the real examples.

Example::

  scores = score_arrays(jax.jit(lambda b: el2n(apply(b['image']), b['label'], b['mask'])),
                        {'image': images, 'label': labels}, batch_size=256)   # (N,)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np


def padded_batches(arrays: Mapping[str, np.ndarray],
                   batch_size: int) -> Iterator[dict[str, np.ndarray]]:
  """Yields ``{name: (batch_size, ...)}`` slices plus ``mask``, the last one zero-padded."""
  if batch_size < 1:
    raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
  sizes = {name: len(value) for name, value in arrays.items()}
  if len(set(sizes.values())) != 1:
    raise ValueError(f'Arrays disagree on the number of examples: {sizes}.')
  num_examples = next(iter(sizes.values()))
  for start in range(0, num_examples, batch_size):
    stop = min(start + batch_size, num_examples)
    pad = batch_size - (stop - start)
    batch = {
        name: np.concatenate([value[start:stop], np.zeros((pad,) + value.shape[1:], value.dtype)])
        if pad else value[start:stop] for name, value in arrays.items()
    }
    batch['mask'] = np.arange(batch_size) < stop - start
    yield batch


def score_arrays(score_fn: Callable[[dict[str, np.ndarray]], np.ndarray],
                 arrays: Mapping[str, np.ndarray], batch_size: int) -> np.ndarray:
  """Runs ``score_fn(batch) -> (..., batch_size)`` over all examples; returns ``(..., N)``.

  The trailing axis is the example axis, so per-seed scores ``(K, batch)`` come back as
  ``(K, N)``. Padding is cut off.
  """
  pieces = []
  for batch in padded_batches(arrays, batch_size):
    scores = np.asarray(score_fn(batch))
    pieces.append(scores[..., batch['mask']])
  return np.concatenate(pieces, axis=-1)
