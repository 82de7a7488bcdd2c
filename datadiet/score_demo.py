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

import ml_collections
import numpy as np
import scipy.stats
from absl import logging

from datadiet import models, score_files, scoring
from datadiet.data import pipeline, sources
from datadiet.scoring import SCORES
from datadiet.train import loop


def run(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
  """Pretrains, scores and saves; returns a summary (also written to ``summary.json``)."""
  scoring.check_scores(config.scores)
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
    images = pipeline.normalize(data.train['image'], pipeline.channel_stats(data.train['image']))
    per_seed = scoring.score_split(model, result.state, images, data.train['label'],
                                   data.train['id'], config.scores, config.score_batch_size,
                                   config.seed_strategy, config.random_score_seed)
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
