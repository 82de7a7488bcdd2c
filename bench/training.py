"""Training-engine benchmark: the input paths (data alone and feeding a step) against batches
already on the device, K seeds vs sequential, and airbench's recipe at full and quarter width.

Prints one JSON line per measurement.

  python bench/training.py                       # shared CIFAR-10, ResNet-20 and small CNN
  python bench/training.py --dataset=digits --pipeline_model=small_cnn --steps=10
  python bench/training.py --parts=data,pipeline  # the input paths only
  python bench/training.py --parts=airbench      # configs/cifar10_airbench.py's training step
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np
from absl import app, flags

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # The configs package.

from configs import cifar10_airbench  # noqa: E402
from configs import train as train_config  # noqa: E402
from datadiet import models  # noqa: E402
from datadiet.data import feed, normalization, sources, train_order  # noqa: E402
from datadiet.train import ensemble, loop, optim  # noqa: E402

_DATASET = flags.DEFINE_string('dataset', 'image_folder:../shared/datasets/cifar10_jpeg',
                               'Dataset name.')
_PIPELINE_MODEL = flags.DEFINE_string('pipeline_model', 'resnet20', 'Model for the pipeline run.')
_ENSEMBLE_MODEL = flags.DEFINE_string('ensemble_model', 'small_cnn', 'Model for the K-seed run.')
_BATCH = flags.DEFINE_integer('batch_size', 128, 'Examples per seed per step.')
_STEPS = flags.DEFINE_integer('steps', 20, 'Timed steps per measurement (after one warm-up).')
_DATA_STEPS = flags.DEFINE_integer('data_steps', 200, 'Steps timed for the data-only rates.')
_KEEP = flags.DEFINE_float('keep_fraction', 0.5, 'Fraction of the training set kept (pruned).')
_NUM_SEEDS = flags.DEFINE_integer('num_seeds', 4, 'K.')
_PARTS = flags.DEFINE_list('parts', ['data', 'pipeline', 'ensemble'],
                           "Which measurements; 'airbench' (CIFAR-sized images) is asked for.")
_AIRBENCH_DTYPE = flags.DEFINE_string('airbench_dtype', 'float32',
                                      "airbench's compute dtype (its config's is bfloat16, for "
                                      'GPUs; float32 is the faster on a CPU).')


def _time_steps(step_fn, state, batches, table):
  """Seconds per step over ``batches`` (an iterator), after one warm-up step."""
  state, metrics = step_fn(state, next(batches), table)
  jax.block_until_ready(metrics)
  start = time.perf_counter()
  for _ in range(_STEPS.value):
    state, metrics = step_fn(state, next(batches), table)
  jax.block_until_ready(metrics)
  return (time.perf_counter() - start) / _STEPS.value, state


def _setup(model_name, data, seeds, strategy):
  config = train_config.get_config()
  model = models.get_model(model_name, num_classes=data.num_classes,
                           batch_norm_axis_name=ensemble.DATA)
  optimizer = optim.make_optimizer(config, 1000)
  mesh = ensemble.make_mesh(len(seeds))
  stats = normalization.channel_stats(data.train['image'])
  state = ensemble.init_ensemble(model, optimizer, seeds, normalization.normalize(
      data.train['image'][:1], stats)[0], len(data.train['label']), mesh)
  return ensemble.make_train_step(model, optimizer, mesh, strategy, stats), state, stats, mesh


def _kept(data):
  num = len(data.train['label'])
  return np.sort(np.random.default_rng(0).permutation(num)[:int(_KEEP.value * num)])


def bench_data_alone(data) -> list[dict]:
  """Images/s each input path delivers with no model: K seeds' augmented batches, normalised."""
  order = train_order.TrainOrder(_kept(data), list(range(_NUM_SEEDS.value)), _BATCH.value, 0,
                                 augment=True)
  mesh = ensemble.make_mesh(_NUM_SEEDS.value)
  stats = normalization.channel_stats(data.train['image'])
  realise = jax.jit(jax.vmap(feed.model_inputs, in_axes=(0, None, None)), static_argnums=2)
  rows = []
  for path in ('tf_data', 'device'):
    table, batches = feed.train_batches(path, data, data.train['label'], order,
                                        0, _DATA_STEPS.value + 1,
                                        ensemble.batch_sharding(mesh))
    jax.block_until_ready(realise(next(batches), table, stats))
    start = time.perf_counter()
    for batch in batches:
      out = realise(batch, table, stats)
    jax.block_until_ready(out)
    rows.append(dict(measurement='input_path_alone', input_pipeline=path,
                     num_seeds=_NUM_SEEDS.value, batch_size=_BATCH.value,
                     images_per_s=_DATA_STEPS.value * _NUM_SEEDS.value * _BATCH.value /
                     (time.perf_counter() - start)))
  return rows


def bench_pipeline(data) -> list[dict]:
  """One seed of the pipeline model, fed by each input path over a pruned subset, against the
  same step on one batch already on the device."""
  step_fn, state, _, mesh = _setup(_PIPELINE_MODEL.value, data, [0], 'unroll')
  order = train_order.TrainOrder(_kept(data), [0], _BATCH.value, 0, augment=True)
  rates = {}
  for path in ('tf_data', 'device'):
    table, batches = feed.train_batches(path, data, data.train['label'], order,
                                        0, _STEPS.value + 1, ensemble.batch_sharding(mesh))
    seconds, state = _time_steps(step_fn, state, batches, table)
    rates[path] = _BATCH.value / seconds
  table, batches = feed.train_batches('device', data, data.train['label'],
                                      order, 0, 1, ensemble.batch_sharding(mesh))
  fixed = next(batches)
  seconds, _ = _time_steps(step_fn, state, itertools.repeat(fixed), table)
  memory = _BATCH.value / seconds
  return [dict(measurement='input_path_vs_memory', model=_PIPELINE_MODEL.value,
               input_pipeline=path, images_per_s=rate, images_per_s_memory=memory,
               ratio=rate / memory) for path, rate in rates.items()]


def bench_ensemble(data) -> list[dict]:
  """K seeds in one step (each strategy) vs K sequential single-seed steps, same batches."""
  k = _NUM_SEEDS.value
  images = data.train['image'][:_BATCH.value]
  batch = {'image': np.broadcast_to(images, (k,) + images.shape).copy(),
           'label': np.broadcast_to(data.train['label'][:_BATCH.value], (k, _BATCH.value)).copy(),
           'index': np.broadcast_to(np.arange(_BATCH.value, dtype=np.int32),
                                    (k, _BATCH.value)).copy()}
  single_step, single_state, _, mesh1 = _setup(_ENSEMBLE_MODEL.value, data, [0], 'unroll')
  one = jax.device_put({key: v[:1] for key, v in batch.items()},
                       ensemble.batch_sharding(mesh1))
  single, _ = _time_steps(single_step, single_state, itertools.repeat(one), {})
  rows = []
  for strategy in ensemble.STRATEGIES:
    step_fn, state, _, mesh = _setup(_ENSEMBLE_MODEL.value, data, list(range(k)), strategy)
    device_batch = jax.device_put(batch, ensemble.batch_sharding(mesh))
    seconds, _ = _time_steps(step_fn, state, itertools.repeat(device_batch), {})
    rows.append(dict(measurement='ensemble_vs_sequential', model=_ENSEMBLE_MODEL.value,
                     strategy=strategy, num_seeds=k, devices=len(mesh.devices.flat),
                     seconds_ensemble_step=seconds, seconds_sequential=k * single,
                     ratio=k * single / seconds))
  return rows


def bench_airbench(data) -> list[dict]:
  """configs/cifar10_airbench.py's training step (one seed; its augmentation, parameter groups,
  label smoothing and lookahead) at full and quarter width, fed from the device copy."""
  rows = []
  for label, widths in (('full', (64, 256, 256)), ('quarter', (16, 64, 64))):
    config = cifar10_airbench.get_config()
    config.data.name = data.name
    config.model.kwargs.widths = widths
    config.model.compute_dtype = _AIRBENCH_DTYPE.value
    config.optim.batch_size = _BATCH.value
    run = loop.setup(config, data, [0])
    step_fn = ensemble.make_train_step(run.model, run.optimizer, run.mesh, run.strategy,
                                       run.stats, loss_fn=optim.training_loss(config),
                                       lookahead=run.lookahead)
    order = train_order.TrainOrder(run.positions, [0], _BATCH.value, 0, augment=True,
                                   **train_order.crop_flip_options(config.data))
    table, batches = feed.train_batches('device', data, data.train['label'], order, 0,
                                        _STEPS.value + 1, ensemble.batch_sharding(run.mesh))
    seconds, _ = _time_steps(step_fn, run.state, batches, table)
    rows.append(dict(measurement='airbench_train_step', width=label, widths=list(widths),
                     dtype=_AIRBENCH_DTYPE.value, batch_size=_BATCH.value,
                     images_per_s=_BATCH.value / seconds, backend=jax.default_backend()))
  return rows


def main(argv):
  del argv
  start = time.perf_counter()
  data = sources.load(_DATASET.value)
  print(json.dumps({'measurement': 'load_dataset', 'dataset': _DATASET.value,
                    'seconds': time.perf_counter() - start,
                    'backend': jax.default_backend()}), flush=True)
  parts = {'data': bench_data_alone, 'pipeline': bench_pipeline, 'ensemble': bench_ensemble,
           'airbench': bench_airbench}
  for part in _PARTS.value:
    for row in parts[part](data):
      print(json.dumps(row), flush=True)


if __name__ == '__main__':
  app.run(main)
