"""The scoring demo: train K seeds for a few steps, score every training example, save scores.

This is the first half of the data-diet pipeline (pretrain → score) on an in-memory dataset:
K models with different initialisations *and* data orders train as one jitted step (seed axis
mapped inside the program), forgetting events are tracked along the way, then every score is
computed per seed and averaged, and saved under ``workdir/scores/<score>.npz`` keyed by example id.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import scipy.stats
from absl import logging

from datadiet import batching, datasets, models, score_files
from datadiet.scores import (el2n, entropy, forgetting, grand, input_norm, loss, margin,
                             over_seeds, random_score, softmax_cross_entropy)

LOGIT_SCORES = {'el2n': el2n, 'loss': loss, 'margin': margin, 'entropy': entropy}
SCORES = ('el2n', 'grand', 'loss', 'margin', 'entropy', 'forgetting', 'input_norm', 'random')


def _map_seeds(fn, strategy):
  """Runs ``fn`` over the leading seed axis of all its arguments, in one program."""
  if strategy == 'vmap':
    return jax.vmap(fn)
  return lambda *args: jax.lax.map(lambda a: fn(*a), args)


def train_seeds(config: ml_collections.ConfigDict, model, data: datasets.ArrayDataset):
  """Trains ``config.num_seeds`` models for ``config.train_steps`` steps; returns the stack."""
  train = {k: jnp.asarray(v) for k, v in data.train.items()}
  num_train = len(data.train['label'])
  seeds = jnp.arange(config.num_seeds)
  optimizer = optax.sgd(optax.cosine_decay_schedule(config.learning_rate, config.train_steps),
                        momentum=0.9, nesterov=True)

  def init(seed):
    variables = model.init(jax.random.key(seed), train['image'][:1])
    return dict(variables=variables, opt_state=optimizer.init(variables['params']),
                tracker=forgetting.init(num_train))

  def one_seed_step(state, seed, step):
    # Each seed draws its own batch: its own data order.
    idx = jax.random.choice(jax.random.fold_in(jax.random.key(seed + 10_000), step), num_train,
                            (config.batch_size,), replace=False)
    x, y = train['image'][idx], train['label'][idx]
    variables = state['variables']

    def loss_fn(params):
      logits, updates = model.apply({**variables, 'params': params}, x, train=True,
                                    mutable=['batch_stats'])
      return softmax_cross_entropy(logits, y).mean(), (logits, updates)

    grads, (logits, updates) = jax.grad(loss_fn, has_aux=True)(variables['params'])
    param_updates, opt_state = optimizer.update(grads, state['opt_state'], variables['params'])
    new_variables = {**variables, **updates,
                     'params': optax.apply_updates(variables['params'], param_updates)}
    tracker = forgetting.update(state['tracker'], idx, jnp.argmax(logits, -1) == y)
    return dict(variables=new_variables, opt_state=opt_state, tracker=tracker)

  map_seeds = functools.partial(_map_seeds, strategy=config.seed_strategy)
  state = jax.jit(map_seeds(init))(seeds)
  step_fn = jax.jit(lambda state, step: map_seeds(
      lambda s, seed: one_seed_step(s, seed, step))(state, seeds), donate_argnums=0)
  for step in range(config.train_steps):
    state = step_fn(state, step)
  return state


def score_training_set(config, model, data, state) -> dict[str, np.ndarray]:
  """Every score in ``config.scores`` for every training example: ``{name: (K, N)}``."""
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
    per_seed, _ = over_seeds(all_scores, stacked_variables, batch, strategy=config.seed_strategy)
    return per_seed  # (K, scores, batch)

  per_seed = batching.score_arrays(lambda b: score_batch(state['variables'], b), data.train,
                                   config.score_batch_size)
  results = {name: per_seed[:, i] for i, name in enumerate(_BATCH_SCORES)}
  results['forgetting'] = np.asarray(jax.vmap(forgetting.scores)(state['tracker']))
  return {name: results[name] for name in config.scores}


_BATCH_SCORES = ('el2n', 'grand', 'loss', 'margin', 'entropy', 'input_norm', 'random')


def _test_accuracy(config, model, data, state) -> np.ndarray:
  def correct(variables, batch):
    logits = model.apply(variables, batch['image'], train=False)
    return (jnp.argmax(logits, -1) == batch['label']) & batch['mask']

  fn = jax.jit(lambda b: over_seeds(correct, state['variables'], b,
                                    strategy=config.seed_strategy)[0])
  return batching.score_arrays(fn, data.test, config.score_batch_size).mean(axis=-1)


def _check_workdir(workdir: Path, config: ml_collections.ConfigDict) -> None:
  """Refuses a workdir holding another config's results; writes config.json otherwise."""
  workdir.mkdir(parents=True, exist_ok=True)
  config_path = workdir / 'config.json'
  wanted = json.loads(config.to_json())
  if config_path.exists():
    found = json.loads(config_path.read_text())
    if found != wanted:
      changed = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
      raise ValueError(f'{workdir} holds results of a different config (differs in {changed}). '
                       'Use a new --workdir; existing results are never overwritten.')
    return
  tmp = config_path.with_suffix('.json.tmp')
  tmp.write_text(json.dumps(wanted, indent=2, sort_keys=True))
  tmp.replace(config_path)


def run(config: ml_collections.ConfigDict, workdir: str | Path) -> dict[str, Any]:
  """Pretrains, scores and saves; returns a summary (also written to ``summary.json``)."""
  unknown = sorted(set(config.scores) - set(SCORES))
  if unknown:
    raise ValueError(f'Unknown scores {unknown}; valid scores: {", ".join(SCORES)}.')
  workdir = Path(workdir)
  _check_workdir(workdir, config)
  data = datasets.load(config.dataset)
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
    state = train_seeds(config, model, data)
    accuracy = _test_accuracy(config, model, data, state)
    per_seed = score_training_set(config, model, data, state)
    for name, values in per_seed.items():
      score_files.save_scores(paths[name], data.train['id'], values, score=name,
                              dataset=data.name, model=config.model, step=config.train_steps,
                              seeds=list(range(config.num_seeds)))
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
