"""The scoring demo: train K seeds for a few steps, score every training example, save scores.

This is the first half of the data-diet pipeline (pretrain → score): the training engine trains
K models with different initialisations *and* data orders as one ensemble, tracking forgetting
events, then every score is computed per seed and averaged, and saved under
``workdir/scores/<score>.npz`` keyed by example id.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import scipy.stats
from absl import logging

from datadiet import batching, models, score_files
from datadiet.data import pipeline, sources
from datadiet.scores import (el2n, entropy, forgetting, grand, input_norm, loss, margin,
                             over_seeds, random_score)
from datadiet.train import ensemble, loop

LOGIT_SCORES = {'el2n': el2n, 'loss': loss, 'margin': margin, 'entropy': entropy}
SCORES = ('el2n', 'grand', 'loss', 'margin', 'entropy', 'forgetting', 'input_norm', 'random')


def score_training_set(config, model, train, state) -> dict[str, np.ndarray]:
  """Every score in ``config.scores`` for every training example: ``{name: (K, N)}``.

  ``train`` holds normalised images, labels and integer ids; ``state`` the trained ensemble.
  """
  eval_kwargs = {'train': False}
  key = jax.random.key(config.random_score_seed)

  def all_scores(variables, batch):
    logits = model.apply(variables, batch['image'], **eval_kwargs)
    out = {name: fn(logits, batch['label'], batch['mask']) for name, fn in LOGIT_SCORES.items()}
    out['grand'] = grand(model, variables, batch['image'], batch['label'], batch['mask'],
                         apply_kwargs=eval_kwargs)
    out['input_norm'] = input_norm(batch['image'], batch['mask'])
    out['random'] = random_score(key, batch['id'], batch['mask'])
    return jnp.stack([out[name] for name in _BATCH_SCORES])

  @jax.jit
  def score_batch(stacked_variables, batch):
    strategy = _SCORE_STRATEGY[ensemble.resolve_strategy(config.seed_strategy, state.params)]
    per_seed, _ = over_seeds(all_scores, stacked_variables, batch, strategy=strategy)
    return per_seed  # (K, scores, batch)

  variables = {'params': state.params, 'batch_stats': state.batch_stats}
  per_seed = batching.score_arrays(lambda b: score_batch(variables, b), train,
                                   config.score_batch_size)
  results = {name: per_seed[:, i] for i, name in enumerate(_BATCH_SCORES)}
  results['forgetting'] = np.asarray(jax.vmap(forgetting.scores)(state.tracker))
  return {name: results[name] for name in config.scores}


_BATCH_SCORES = ('el2n', 'grand', 'loss', 'margin', 'entropy', 'input_norm', 'random')
# Scoring seeds one after another (lax.map) runs as fast as unrolling them on CPU, unlike
# training; vmap is kept for models without convolutions.
_SCORE_STRATEGY = {'vmap': 'vmap', 'unroll': 'map', 'map': 'map'}


def run(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
  """Pretrains, scores and saves; returns a summary (also written to ``summary.json``)."""
  unknown = sorted(set(config.scores) - set(SCORES))
  if unknown:
    raise ValueError(f'Unknown scores {unknown}; valid scores: {", ".join(SCORES)}.')
  workdir = Path(workdir)
  data = sources.load(config.dataset, data_dir=config.get('data_dir'))
  model = models.get_model(config.model, num_classes=data.num_classes)
  score_dir = workdir / 'scores'
  paths = {name: score_dir / f'{name}.npz' for name in config.scores}
  start = time.perf_counter()
  if all(path.exists() for path in paths.values()):
    logging.info('All score files exist in %s; loading them.', score_dir)
    per_seed = {name: score_files.load_scores(path, ids=data.train['id'], dataset=data.name,
                                              score=name).per_seed
                for name, path in paths.items()}
    accuracy = None
  else:
    result = loop.train_ensemble(config, workdir / 'pretrain', data, seeds=list(config.seeds))
    accuracy = result.test['accuracy']
    stats = pipeline.channel_stats(data.train['image'])
    train = {**data.train, 'image': pipeline.normalize(data.train['image'], stats)}
    per_seed = score_training_set(config, model, train, result.state)
    for name, values in per_seed.items():
      score_files.save_scores(paths[name], data.train['id'], values, score=name,
                              dataset=data.name, model=config.model, step=result.num_steps,
                              seeds=list(config.seeds))
  mean = {name: values.mean(axis=0) for name, values in per_seed.items()}
  summary = dict(
      num_train=len(data.train['id']),
      seconds=time.perf_counter() - start,
      test_accuracy_per_seed=None if accuracy is None else accuracy.tolist(),
      spearman_vs_el2n={name: float(scipy.stats.spearmanr(mean['el2n'], v).statistic)
                        for name, v in mean.items()} if 'el2n' in mean else {},
      hardest_by_el2n=[int(i) for i in data.train['id'][np.argsort(-mean['el2n'])[:10]]]
      if 'el2n' in mean else [],
  )
  (workdir / 'summary.json').write_text(json.dumps(summary, indent=2))
  return summary


def format_summary(summary: dict[str, Any]) -> str:
  """A plain-text table for the terminal."""
  lines = []
  if summary['test_accuracy_per_seed'] is not None:
    lines.append('test accuracy per seed: ' + ', '.join(
        f'{a:.3f}' for a in summary['test_accuracy_per_seed']))
  lines.append(f'{"score":<12} Spearman vs EL2N')
  lines += [f'{name:<12} {rho:+.3f}' for name, rho in summary['spearman_vs_el2n'].items()]
  lines.append('10 hardest training examples by EL2N (ids): '
               + ' '.join(map(str, summary['hardest_by_el2n'])))
  return '\n'.join(lines)
