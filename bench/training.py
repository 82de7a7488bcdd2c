"""Training-engine benchmark: tf.data pipeline vs in-memory batches, and K seeds vs sequential.

Prints one JSON line per measurement, then a summary of the issue's ratios.

  python bench/training.py                       # shared CIFAR-10, ResNet-20 and small CNN
  python bench/training.py --dataset=digits --pipeline_model=small_cnn --steps=10
"""

from __future__ import annotations

import json
import time

import jax
import numpy as np
from absl import app, flags

from configs import train as train_config
from datadiet import models
from datadiet.data import pipeline, sources
from datadiet.train import ensemble, optim

_DATASET = flags.DEFINE_string('dataset', 'image_folder:../shared/datasets/cifar10_jpeg',
                               'Dataset name.')
_PIPELINE_MODEL = flags.DEFINE_string('pipeline_model', 'resnet20', 'Model for the pipeline run.')
_ENSEMBLE_MODEL = flags.DEFINE_string('ensemble_model', 'small_cnn', 'Model for the K-seed run.')
_BATCH = flags.DEFINE_integer('batch_size', 128, 'Examples per seed per step.')
_STEPS = flags.DEFINE_integer('steps', 20, 'Timed steps per measurement (after one warm-up).')
_KEEP = flags.DEFINE_float('keep_fraction', 0.5, 'Fraction of the training set kept (pruned).')
_NUM_SEEDS = flags.DEFINE_integer('num_seeds', 4, 'K.')


def _time_steps(step_fn, state, batches):
  """Seconds per step over ``batches`` (an iterator), after one warm-up step."""
  state, metrics = step_fn(state, next(batches))
  jax.block_until_ready(metrics)
  start = time.perf_counter()
  for _ in range(_STEPS.value):
    state, metrics = step_fn(state, next(batches))
  jax.block_until_ready(metrics)
  return (time.perf_counter() - start) / _STEPS.value, state


def _setup(model_name, data, seeds, strategy):
  config = train_config.get_config()
  model = models.get_model(model_name, num_classes=data.num_classes,
                           batch_norm_axis_name=ensemble.DATA)
  optimizer = optim.make_optimizer(config, 1000)
  mesh = ensemble.make_mesh(len(seeds))
  stats = pipeline.channel_stats(data.train['image'])
  state = ensemble.init_ensemble(model, optimizer, seeds, pipeline.normalize(
      data.train['image'][:1], stats)[0], len(data.train['label']), mesh)
  return ensemble.make_train_step(model, optimizer, mesh, strategy), state, stats, mesh


def bench_pipeline(data) -> dict:
  """One seed of the pipeline model, fed by the pruned tf.data stream vs a fixed device batch."""
  step_fn, state, stats, mesh = _setup(_PIPELINE_MODEL.value, data, [0], 'unroll')
  keep = np.sort(np.random.default_rng(0).permutation(len(data.train['label']))[
      :int(_KEEP.value * len(data.train['label']))])
  stream = pipeline.train_stream(data.train, keep, [0], _BATCH.value, 0, 0, _STEPS.value + 1,
                                 stats).as_numpy_iterator()
  sharding = ensemble.batch_sharding(mesh)
  from_pipeline, state = _time_steps(step_fn, state,
                                     (jax.device_put(b, sharding) for b in stream))
  fixed = jax.device_put(next(pipeline.train_stream(data.train, keep, [0], _BATCH.value, 0, 0, 1,
                                                    stats).as_numpy_iterator()), sharding)
  from_memory, _ = _time_steps(step_fn, state, iter(lambda: fixed, None))
  return dict(measurement='pipeline_vs_memory', model=_PIPELINE_MODEL.value,
              images_per_s_pipeline=_BATCH.value / from_pipeline,
              images_per_s_memory=_BATCH.value / from_memory,
              ratio=from_memory / from_pipeline)


def bench_ensemble(data) -> list[dict]:
  """K seeds in one step (each strategy) vs K sequential single-seed steps, same batches."""
  k = _NUM_SEEDS.value
  images = pipeline.normalize(data.train['image'][:_BATCH.value], pipeline.channel_stats(
      data.train['image']))
  batch = {'image': np.broadcast_to(images, (k,) + images.shape).copy(),
           'label': np.broadcast_to(data.train['label'][:_BATCH.value], (k, _BATCH.value)).copy(),
           'index': np.broadcast_to(np.arange(_BATCH.value, dtype=np.int32),
                                    (k, _BATCH.value)).copy()}
  single_step, single_state, _, mesh1 = _setup(_ENSEMBLE_MODEL.value, data, [0], 'unroll')
  one = jax.device_put({key: v[:1] for key, v in batch.items()},
                       ensemble.batch_sharding(mesh1))
  single, _ = _time_steps(single_step, single_state, iter(lambda: one, None))
  rows = []
  for strategy in ensemble.STRATEGIES:
    step_fn, state, _, mesh = _setup(_ENSEMBLE_MODEL.value, data, list(range(k)), strategy)
    device_batch = jax.device_put(batch, ensemble.batch_sharding(mesh))
    seconds, _ = _time_steps(step_fn, state, iter(lambda: device_batch, None))
    rows.append(dict(measurement='ensemble_vs_sequential', model=_ENSEMBLE_MODEL.value,
                     strategy=strategy, num_seeds=k, devices=len(mesh.devices.flat),
                     seconds_ensemble_step=seconds, seconds_sequential=k * single,
                     ratio=k * single / seconds))
  return rows


def main(argv):
  del argv
  start = time.perf_counter()
  data = sources.load(_DATASET.value)
  print(json.dumps({'measurement': 'load_dataset', 'dataset': _DATASET.value,
                    'seconds': time.perf_counter() - start,
                    'backend': jax.default_backend()}), flush=True)
  print(json.dumps(bench_pipeline(data)), flush=True)
  for row in bench_ensemble(data):
    print(json.dumps(row), flush=True)


if __name__ == '__main__':
  app.run(main)
