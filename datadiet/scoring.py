"""Scoring a whole training split with a trained K-seed ensemble: every requested score, per seed.

This is the glue between the engine (stacked ensemble state) and :mod:`datadiet.scores`: the
split is walked in fixed-size padded batches, each batch scored by all K models inside one
compiled program, and only the requested scores are computed (GraNd costs a backward pass).
The split comes as :class:`datadiet.data.feed.Examples`: uint8 images normalised inside the
program, read from their device copy on the ``device`` input path. Scores are computed by
``model`` in its own dtype: pass a float32 model (the default ``config.scores.dtype``) to score a
bfloat16-trained ensemble in full precision; the parameters are float32 either way.

Example::

  examples = feed.Examples.create(images, labels, stats, mesh, 'device')
  per_seed = score_split(model, state, examples, ids, ('el2n', 'grand'),
                         batch_size=512, strategy='auto')     # {'el2n': (K, N), 'grand': ...}
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from datadiet import errors, multihost
from datadiet.data import feed
from datadiet.scores import over_seeds, registry
from datadiet.train import ensemble

# Scoring seeds one after another (lax.map) runs as fast as unrolling them on CPU, unlike
# training; vmap is kept for models without convolutions.
_SCORE_STRATEGY = {'vmap': 'vmap', 'unroll': 'map', 'map': 'map'}


def example_keys(ids: np.ndarray) -> np.ndarray:
  """Integer keys for example ids (strings hashed with CRC-32), for id-keyed random scores."""
  ids = np.asarray(ids)
  if ids.dtype.kind in 'iu':
    return (ids % (2**31)).astype(np.int32)
  return np.array([zlib.crc32(str(i).encode()) % (2**31) for i in ids], np.int32)


def score_split(model, state: ensemble.EnsembleState, examples: feed.Examples, ids: np.ndarray,
                names: Sequence[str], batch_size: int, strategy: str = 'auto',
                random_seed: int = 0) -> dict[str, np.ndarray]:
  """``{score: (K, N)}`` for every example of a split (labels: ``examples.labels``).

  Runs on the ensemble's own ``(seeds, data)`` mesh: each device scores its seeds on its share
  of every batch (``batch_size`` must split evenly over the ``data`` axis), across every process
  of a multi-process run; every process gets all the scores back. A score read from a tracker
  (``forgetting``) comes from the ensemble's state (what its training observed so far).
  """
  registry.check(names)
  batch_scores = [registry.SCORES[n] for n in names if registry.SCORES[n].per_batch]
  batch_names = [s.name for s in batch_scores]
  key = jax.random.key(random_seed)
  eval_kwargs = {'train': False}
  seed_strategy = _SCORE_STRATEGY[ensemble.resolve_strategy(strategy, state.params)]
  mesh = ensemble.mesh_of(state)
  ensemble.check_batch_split(batch_size, mesh, 'runtime.score_batch_size')

  def member_scores(variables, images, labels, batch):
    mask = batch['mask']
    if any(score.needs == 'logits' for score in batch_scores):  # One forward pass for all.
      logits = model.apply(variables, images, **eval_kwargs)
    inputs_of = {
        'logits': lambda: (logits, labels, mask),
        'model': lambda: (model, variables, images, labels, mask, eval_kwargs),
        'inputs': lambda: (images, mask),
        'ids': lambda: (key, batch['key'], mask),
    }
    return jnp.stack([score.fn(*inputs_of[score.needs]()) for score in batch_scores])

  def local_scores(variables, batch, table):  # This device's seeds × this device's examples.
    images, labels = feed.model_inputs(batch, table, examples.stats)
    return over_seeds(lambda v: member_scores(v, images, labels, batch), variables,
                      strategy=seed_strategy)[0]

  score_batch = jax.jit(jax.shard_map(
      local_scores, mesh=mesh, in_specs=(P(ensemble.SEEDS), P(ensemble.DATA), P()),
      out_specs=P(ensemble.SEEDS, None, ensemble.DATA), check_vma=False))
  sharding = NamedSharding(mesh, P(ensemble.DATA))

  results = {}
  if batch_names:
    variables = {'params': state.params, 'batch_stats': state.batch_stats}
    per_seed = np.concatenate([
        multihost.to_host(score_batch(variables, multihost.to_device(batch, sharding),
                                      examples.table))[..., batch['mask']]
        for batch in examples.batches(batch_size, {'key': example_keys(ids)})], axis=-1)
    results = {n: per_seed[:, i] for i, n in enumerate(batch_names)}
  for name in names:  # Read from what the training steps accumulated, per seed.
    score = registry.SCORES[name]
    if score.needs == 'tracker':
      if score.tracker.name not in state.trackers:
        raise errors.InputError(f'{name} is read from the {score.tracker.name!r} tracker, which '
                                'this ensemble was not trained with (pass it to training).')
      values = np.asarray(multihost.to_host(jax.vmap(score.fn)(state.trackers[score.tracker.name])))
      results[name] = values if score.finalize is None else score.finalize(values)
  return {n: results[n] for n in names}
