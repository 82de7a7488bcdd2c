"""Checks a config against its dataset and the devices before a run touches its workdir.

A misspelt name or an impossible combination (an offset band that runs off the end of the
dataset, a subset pruned by a score the run never computes, a batch that does not split over
the devices) would otherwise surface hours into a run, after pretraining; here it is an
:class:`~datadiet.errors.InputError` naming the field and the valid choices, raised before
anything is written.

Each field is checked by the part of the code that reads it (the optimizer's by
:func:`datadiet.train.optim.check_hyperparameters`, the input path's by
:func:`datadiet.data.feed.check_config`, a pruning method's options by its ``check_options``, a
stage's blocks by its ``check``, ...); this module calls them all, in order, with the dataset
and the devices, and adds what only the whole run shows: the model traced on the images, the
host memory of padded batches, stages that cannot stream.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import ml_collections

from datadiet import config_checks, errors, models
from datadiet.data import feed, noise, sources
from datadiet.train import ensemble, loop, optim
from datadiet.train.lookahead import Lookahead


def _check_fields(config: ml_collections.ConfigDict) -> None:
  """What the config alone decides for every job: sizes, budgets, seeds, dtypes."""
  config_checks.positive(config, ('optim.batch_size', 'runtime.eval_batch_size', 'optim.budget',
                           'runtime.log_every_steps'))
  config_checks.non_negative_ints(config, ('runtime.checkpoint_every_steps',
                                           'runtime.eval_every_steps', 'data.order_seed',
                                           'data.label_noise_seed', 'runtime.stream_readers'))
  optim.check_hyperparameters(config)
  optim.training_loss(config)  # Label smoothing.
  optim.param_groups(config)
  try:
    models.compute_dtype(config.model.compute_dtype)
  except errors.InputError as e:
    raise errors.InputError(f'config.model.compute_dtype: {e}') from e
  config_checks.seeds('pretrain.seeds', config.pretrain.seeds)
  noise.check_fraction(config.data.label_noise_fraction)
  ensemble.check_strategy(config.runtime.seed_strategy)
  feed.check_config(config)


def _check_batch_memory(config: ml_collections.ConfigDict, data) -> None:
  """Scoring and evaluation batches are padded on the host to their full size: refuse one whose
  host arrays (the split's own per-example arrays, and a copy while padding) cannot fit in the
  host's memory. The kernel would kill the run without a message, minutes in."""
  per_example = sum(value[:1].nbytes for value in data.train.values())
  host = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
  largest = max(len(data.train['label']), len(data.test['label']))
  for field in ('runtime.eval_batch_size', 'runtime.score_batch_size'):
    size = config_checks.field_value(config, field)
    if 2 * size * per_example > host:
      raise errors.InputError(
          f'config.{field} {size:,} pads every batch to that many examples: '
          f'{2 * size * per_example / 2**30:.1f} GiB of host arrays, more than this host\'s '
          f'{host / 2**30:.1f} GiB; use at most {largest:,} (the largest split it batches: a '
          'larger batch only adds padding).')


def _shortest_run(config: ml_collections.ConfigDict, num_train: int) -> int:
  """The steps of the shortest run the config trains: a budget in epochs gives the most pruned
  subset the fewest (its size from the largest fraction pruned)."""
  sizes = [num_train]
  if config.job == 'pipeline' and 'retrain' in config.stages and config.prune.fractions:
    sizes.append(max(1, int(num_train * (1 - max(config.prune.fractions)))))
  return min(optim.total_steps(config, size) for size in sizes)


def _check_model(config: ml_collections.ConfigDict, data) -> None:
  """The architecture's name and kwargs, that it runs on these images (traced, not computed),
  and that every parameter group of the recipe names some of its parameters."""
  model = models.from_config(config, data.num_classes)
  shape = data.image_shape if data.streamed else data.train['image'].shape[1:]
  variables = jax.eval_shape(
      lambda: model.init(jax.random.key(0), jnp.zeros((1, *shape), jnp.float32), train=False))
  optim.check_param_groups(config, variables['params'])


def check(config: ml_collections.ConfigDict) -> None:
  """Raises :class:`~datadiet.errors.InputError` for anything the run could not do."""
  stages = []
  if config.job == 'pipeline':
    from datadiet.stages import registry  # The pipeline imports the whole stack.
    stages = registry.configured(config.stages)
  _check_fields(config)
  data = sources.for_config(config)
  loop.input_pipeline(config, data)  # A known path that this environment can run.
  if config.data.channel_stats:
    feed.channel_stats_for(config, data)  # Their shape against the images' channels.
  _check_batch_memory(config, data)
  num_train = len(data.train['label'])
  num_steps = optim.total_steps(config, num_train)
  optim.make_optimizer(config, num_steps)  # Budget unit, schedule.
  Lookahead.from_config(config, _shortest_run(config, num_train))
  loop.check_checkpoint_steps(config, num_steps)
  _check_model(config, data)
  ensemble.make_mesh(len(config.pretrain.seeds), config.optim.batch_size)  # Does it split?
  if stages:
    from datadiet.stages.context import Context
    ctx = Context(config, workdir=None)  # Planning only: nothing is read from or written there.
    for stage in stages:
      if data.streamed and not stage.streams:
        raise errors.InputError(
            f'Stage {stage.name!r} needs the training images in memory, which '
            "input_pipeline='stream' leaves on disk; drop it from config.stages or use "
            "input_pipeline 'device' (or 'tf_data', with TensorFlow).")
      stage.check(ctx, num_train)
