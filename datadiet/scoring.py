"""Scoring a whole training split with a trained K-seed ensemble: every requested score, per seed.

This is the glue between the engine (stacked ensemble state) and :mod:`datadiet.scores`: the
split is walked in fixed-size padded batches, each batch scored by all K models inside one
compiled program, and only the requested scores are computed (GraNd costs a backward pass).
The split comes as :class:`datadiet.data.feed.Examples` (uint8 images normalised inside the
program, read from their device copy on the ``device`` input path) or streamed from disk
(:class:`datadiet.data.streaming.StreamedExamples`: each process reads only the examples its
devices score). Scores are computed by
``model`` in its own dtype: pass a float32 model (the default ``config.scores.dtype``) to score a
bfloat16-trained ensemble in full precision; the parameters are float32 either way.

Example::

  examples = feed.Examples.create(images, labels, stats, mesh, 'device')
  per_seed = score_split(model, state, examples, ids, ('el2n', 'grand'),
                         batch_size=512, strategy='auto')     # {'el2n': (K, N), 'grand': ...}
"""

from __future__ import annotations

import json
import time
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.sharding import PartitionSpec as P

from datadiet import atomic_files, errors, multihost
from datadiet.data import feed
from datadiet.scores import registry
from datadiet.seed_axis import over_seeds
from datadiet.train import ensemble

# Scoring seeds one after another (lax.map) runs as fast as unrolling them on CPU, unlike
# training; vmap is kept for models without convolutions.
_SCORE_STRATEGY = {'vmap': 'vmap', 'unroll': 'map', 'map': 'map'}


def _resumed(directory: Path | None, signature: np.ndarray) -> tuple[list[np.ndarray], int]:
  """``(score chunks, batches they cover)`` that a partial pass of this same pass
  (``signature``) saved in ``directory``, in order; none if there are none or they are of
  another pass."""
  if directory is None or not Path(directory).is_dir():
    return [], 0
  chunks, done = [], 0
  for part in sorted(Path(directory).glob('part_*.npz')):
    try:
      with np.load(part, allow_pickle=False) as saved:
        if str(saved['signature']) != str(signature) or int(saved['first']) != done:
          return [], 0
        chunks.append(saved['values'])
        done = int(saved['last'])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # Written whole or not at all.
      return [], 0
  return chunks, done


def example_keys(ids: np.ndarray) -> np.ndarray:
  """Integer keys for example ids (strings hashed with CRC-32), for id-keyed random scores."""
  ids = np.asarray(ids)
  if ids.dtype.kind in 'iu':
    return (ids % (2**31)).astype(np.int32)
  return np.array([zlib.crc32(str(i).encode()) % (2**31) for i in ids], np.int32)


def score_split(model, state: ensemble.EnsembleState, examples: feed.Examples, ids: np.ndarray,
                names: Sequence[str], batch_size: int, strategy: str = 'auto',
                random_seed: int = 0, resume_path: Path | None = None,
                save_every_batches: int = 100) -> dict[str, np.ndarray]:
  """``{score: (K, N)}`` for every example of a split (labels: ``examples.labels``).

  With ``resume_path`` (a directory), the scores of every ``save_every_batches`` batches are
  saved there as one more part (atomically; each part holds only its own batches, so saving
  costs the same late in a pass as early), and a pass that finds them resumes after the last
  saved batch instead of from zero: a pass over a large split survives a kill. The caller
  removes the directory once it has saved the scores.

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
  sharding = ensemble.eval_sharding(mesh)

  results = {}
  if batch_names:
    variables = ensemble.model_variables(state.params, state.batch_stats, state.constants)
    num_batches = -(-len(ids) // batch_size)
    signature = np.array(json.dumps(dict(names=batch_names, batch_size=batch_size,
                                         num_examples=len(ids),
                                         num_seeds=len(jax.tree.leaves(state.params)[0]))))
    chunks, done = _resumed(resume_path, signature)
    saved_chunks, saved_through = len(chunks), done
    if done:
      logging.info('Scoring %s: resuming after batch %d of %d.', batch_names, done, num_batches)
    start = time.perf_counter()
    batches = examples.batches(batch_size, {'key': example_keys(ids)}, sharding,
                               start_batch=done)
    for index, batch in enumerate(batches, start=done):
      chunks.append(multihost.to_host(score_batch(
          variables, examples.place(batch, sharding), examples.table))[..., batch['mask']])
      if resume_path is not None and (index + 1) % save_every_batches == 0 and \
          index + 1 < num_batches:
        atomic_files.write_npz(Path(resume_path) / f'part_{index + 1:09d}.npz',
                               signature=signature, first=np.array(saved_through),
                               last=np.array(index + 1),
                               values=np.concatenate(chunks[saved_chunks:], axis=-1))
        saved_chunks, saved_through = len(chunks), index + 1
        rate = (index + 1 - done) * batch_size / (time.perf_counter() - start)
        logging.info('Scoring %s: batch %d of %d (%.0f examples/s).', batch_names, index + 1,
                     num_batches, rate)
    per_seed = np.concatenate(chunks, axis=-1)
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
