"""Scoring benchmark: images/s and peak memory of training, forward, EL2N and every GraNd path.

Prints one JSON object per (model, measurement) line and a summary with the issue's target ratios.
Peak memory is XLA's own buffer assignment for the compiled program (arguments + outputs +
temporaries), the same number on CPU, GPU and TPU.

  python bench/scoring.py                       # resnet18 and resnet20, batch 128
  python bench/scoring.py --models=resnet20 --batch_size=64 --reference_batch_sizes=64,16
"""

from __future__ import annotations

import functools
import json

import jax
import jax.numpy as jnp
import optax
import timing
from absl import app, flags

from datadiet import models
from datadiet.scores import el2n, grand, softmax_cross_entropy

_MODELS = flags.DEFINE_list('models', ['resnet18', 'resnet20'], 'Registered model names.')
_BATCH = flags.DEFINE_integer('batch_size', 128, 'Batch size of every measurement.')
_REFERENCE_BATCHES = flags.DEFINE_list(
    'reference_batch_sizes', ['128', '64', '32', '16', '8'],
    'Batch sizes tried, in order, for the jacrev reference; the first that fits is used.')
_REFERENCE_BUDGET = flags.DEFINE_float('reference_budget_gib', 8.0,
                                       'Peak memory the jacrev reference may plan for.')
_MICROBATCH = flags.DEFINE_integer('microbatch_size', 16, 'Generic GraNd microbatch.')
_MIN_SECONDS = flags.DEFINE_float('min_seconds', 10.0, 'Time each measurement at least this long.')


def _measure(name, fn, args, batch, donate=False):
  return timing.measure(name, fn, args, batch, donate=donate, min_seconds=_MIN_SECONDS.value)


def _jacrev_reference(model, variables, x, y):
  """The pitfall: the batch × #params Jacobian of per-example losses, then row norms."""

  def losses(params):
    logits = model.apply({**variables, 'params': params}, x, train=False)
    return softmax_cross_entropy(logits, y)

  jacobian = jax.jacrev(losses)(variables['params'])
  flat = jnp.concatenate([j.reshape(x.shape[0], -1) for j in jax.tree.leaves(jacobian)], 1)
  return jnp.linalg.norm(flat, axis=1)


def bench_model(name: str, batch: int) -> list[dict]:
  model = models.get_model(name, num_classes=10)
  key_x, key_init = jax.random.split(jax.random.key(0))
  x = jax.random.normal(key_x, (batch, 32, 32, 3))
  y = jnp.arange(batch) % 10
  variables = model.init(key_init, x[:1])
  num_params = sum(p.size for p in jax.tree.leaves(variables['params']))
  optimizer = optax.sgd(0.1, momentum=0.9, nesterov=True)
  eval_kwargs = {'train': False}

  def train_step(state, x, y):
    params, batch_stats, opt_state = state

    def loss_fn(params):
      logits, updates = model.apply({'params': params, 'batch_stats': batch_stats}, x,
                                    train=True, mutable=['batch_stats'])
      return softmax_cross_entropy(logits, y).mean(), updates['batch_stats']

    grads, new_stats = jax.grad(loss_fn, has_aux=True)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), new_stats, opt_state

  # A copy: the train step donates its state, and the scores below still need `variables`.
  state = jax.tree.map(jnp.copy, (variables['params'], variables['batch_stats'],
                                  optimizer.init(variables['params'])))
  rows = []

  def record(row):
    row.update(model=name, num_params=num_params, backend=jax.default_backend())
    print(json.dumps(row), flush=True)
    rows.append(row)

  record(_measure('train_step', train_step, (state, x, y), batch, donate=True))
  record(_measure('forward', lambda v, x: model.apply(v, x, **eval_kwargs), (variables, x),
                  batch))
  record(_measure('el2n', lambda v, x, y: el2n(model.apply(v, x, **eval_kwargs), y),
                  (variables, x, y), batch))
  record(_measure('grand_fast', functools.partial(grand, model, method='fast',
                                                  apply_kwargs=eval_kwargs),
                  (variables, x, y), batch))
  record(_measure('grand_generic', functools.partial(
      grand, model, method='generic', apply_kwargs=eval_kwargs,
      microbatch_size=_MICROBATCH.value), (variables, x, y), batch))
  for reference_batch in map(int, _REFERENCE_BATCHES.value):
    args = (variables, x[:reference_batch], y[:reference_batch])
    planned = timing.peak_bytes(jax.jit(functools.partial(_jacrev_reference, model)).lower(
        *args).compile())
    if planned <= _REFERENCE_BUDGET.value * 2**30:
      record(_measure('jacrev_reference', functools.partial(_jacrev_reference, model), args,
                      reference_batch))
      break
  return rows


def summarize(rows: list[dict]) -> dict:
  """The issue's target ratios, from one run."""
  by_name = {r['measurement']: r for r in rows}
  rate = lambda n: by_name[n]['images_per_s']
  summary = dict(
      model=rows[0]['model'],
      grand_fast_over_train_step=rate('grand_fast') / rate('train_step'),
      el2n_over_forward=rate('el2n') / rate('forward'),
      grand_fast_memory_over_train_step=(by_name['grand_fast']['peak_memory_mib'] /
                                         by_name['train_step']['peak_memory_mib']),
      grand_fast_over_generic=rate('grand_fast') / rate('grand_generic'),
  )
  if 'jacrev_reference' in by_name:
    summary.update(grand_fast_over_jacrev=rate('grand_fast') / rate('jacrev_reference'),
                   jacrev_batch_size=by_name['jacrev_reference']['batch_size'])
  return summary


def main(argv):
  del argv
  for name in _MODELS.value:
    rows = bench_model(name, _BATCH.value)
    print(json.dumps({'summary': summarize(rows)}), flush=True)


if __name__ == '__main__':
  app.run(main)
