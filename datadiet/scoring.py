"""Scoring a whole training split with a trained K-seed ensemble: every requested score, per seed.

This is the glue between the engine (stacked ensemble state) and :mod:`datadiet.scores`: the
split is walked in fixed-size padded batches, each batch scored by all K models inside one
compiled program, and only the requested scores are computed (GraNd costs a backward pass).

Example::

  per_seed = score_split(model, state, train_images, labels, ids, ('el2n', 'grand'),
                         batch_size=512, strategy='auto')     # {'el2n': (K, N), 'grand': ...}
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from datadiet import batching
from datadiet.scores import (el2n, entropy, forgetting, grand, input_norm, loss, margin,
                             over_seeds, random_score)
from datadiet.train import ensemble

LOGIT_SCORES = {'el2n': el2n, 'loss': loss, 'margin': margin, 'entropy': entropy}
BATCH_SCORES = tuple(LOGIT_SCORES) + ('grand', 'input_norm', 'random')
SCORES = BATCH_SCORES + ('forgetting',)
# Scoring seeds one after another (lax.map) runs as fast as unrolling them on CPU, unlike
# training; vmap is kept for models without convolutions.
_SCORE_STRATEGY = {'vmap': 'vmap', 'unroll': 'map', 'map': 'map'}


def check_scores(names: Sequence[str]) -> None:
  """Raises a ValueError naming the valid scores if any name is unknown."""
  unknown = sorted(set(names) - set(SCORES))
  if unknown:
    raise ValueError(f'Unknown scores {unknown}; valid scores: {", ".join(SCORES)}.')


def example_keys(ids: np.ndarray) -> np.ndarray:
  """Integer keys for example ids (strings hashed with CRC-32), for id-keyed random scores."""
  ids = np.asarray(ids)
  if ids.dtype.kind in 'iu':
    return (ids % (2**31)).astype(np.int32)
  return np.array([zlib.crc32(str(i).encode()) % (2**31) for i in ids], np.int32)


def score_split(model, state: ensemble.EnsembleState, images: np.ndarray, labels: np.ndarray,
                ids: np.ndarray, names: Sequence[str], batch_size: int, strategy: str = 'auto',
                random_seed: int = 0) -> dict[str, np.ndarray]:
  """``{score: (K, N)}`` for every example of a split (images already normalised).

  ``forgetting`` comes from the ensemble's tracker (events seen during its training so far).
  """
  check_scores(names)
  batch_names = [n for n in names if n in BATCH_SCORES]
  key = jax.random.key(random_seed)
  eval_kwargs = {'train': False}
  seed_strategy = _SCORE_STRATEGY[ensemble.resolve_strategy(strategy, state.params)]

  def member_scores(variables, batch):
    out = {}
    if any(n in LOGIT_SCORES for n in batch_names):
      logits = model.apply(variables, batch['image'], **eval_kwargs)
      out.update({n: LOGIT_SCORES[n](logits, batch['label'], batch['mask'])
                  for n in batch_names if n in LOGIT_SCORES})
    if 'grand' in batch_names:
      out['grand'] = grand(model, variables, batch['image'], batch['label'], batch['mask'],
                           apply_kwargs=eval_kwargs)
    if 'input_norm' in batch_names:
      out['input_norm'] = input_norm(batch['image'], batch['mask'])
    if 'random' in batch_names:
      out['random'] = random_score(key, batch['key'], batch['mask'])
    return jnp.stack([out[n] for n in batch_names])

  @jax.jit
  def score_batch(variables, batch):
    return over_seeds(member_scores, variables, batch, strategy=seed_strategy)[0]

  results = {}
  if batch_names:
    variables = {'params': state.params, 'batch_stats': state.batch_stats}
    arrays = {'image': images, 'label': labels, 'key': example_keys(ids)}
    per_seed = batching.score_arrays(lambda b: score_batch(variables, b), arrays, batch_size)
    results = {n: per_seed[:, i] for i, n in enumerate(batch_names)}
  if 'forgetting' in names:
    results['forgetting'] = np.asarray(jax.vmap(forgetting.scores)(state.tracker))
  return {n: results[n] for n in names}
