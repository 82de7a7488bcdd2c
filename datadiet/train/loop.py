"""The ensemble training loop: data stream → jitted sharded steps → metrics, evals, checkpoints.

:func:`train_ensemble` trains K seeds on (a subset of) a dataset and resumes automatically from
the latest checkpoint in its directory, so an interrupted run relaunched with the same arguments
finishes with the same parameters as an uninterrupted one (the data stream is a pure function of
the step). :func:`train_and_evaluate` is the ``train`` job: load data, optional label noise,
train, evaluate.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import ml_collections
import numpy as np
from absl import logging

from datadiet import errors, models, multihost
from datadiet.data import (dataset, feed, image_reader, noise, normalization, sources,
                           train_order)
from datadiet.scores.trackers import Tracker
from datadiet.train import checkpoints, ensemble, metrics, optim
from datadiet.train.lookahead import Lookahead


class NonFiniteLossError(errors.DatadietError, FloatingPointError):
  """Training produced a NaN or infinite loss."""


@dataclasses.dataclass
class TrainResult:
  """The final ensemble state and what happened on the way."""
  state: ensemble.EnsembleState
  seeds: list[int]
  num_steps: int
  start_step: int
  test: dict[str, np.ndarray]  # Final per-seed test loss and accuracy.
  images_per_second: float
  # Final per-seed loss and accuracy on the extra ``eval_splits`` (e.g. a validation split).
  evaluations: dict[str, dict[str, np.ndarray]] = dataclasses.field(default_factory=dict)


# The input paths this process has named on the terminal (each once).
_PIPELINES_SAID: set[tuple] = set()

def evaluate(eval_step, state: ensemble.EnsembleState, examples: feed.Examples,
             batch_size: int) -> dict[str, np.ndarray]:
  """Per-seed mean loss and accuracy over every example of ``examples``."""
  loss_sum = correct = 0
  mesh = ensemble.mesh_of(state)
  sharding = ensemble.eval_sharding(mesh)
  data = mesh.shape[ensemble.DATA]
  batch_size = -(-batch_size // data) * data  # Splits over the data axis (padding is masked).
  for batch in examples.batches(batch_size, sharding=sharding):
    out = eval_step(state, examples.place(batch, sharding), examples.table)
    loss_sum = loss_sum + out['loss_sum']
    correct = correct + out['correct']
  count = len(examples)
  loss_sum, correct = multihost.to_host((loss_sum, correct))
  return {'loss': np.asarray(loss_sum) / count, 'accuracy': np.asarray(correct) / count}


def _check_finite(losses: np.ndarray, seeds: list[int], first_step: int, last_step: int) -> None:
  bad = [seeds[k] for k in range(len(seeds)) if not np.all(np.isfinite(losses[:, k]))]
  if bad:
    raise NonFiniteLossError(
        f'Non-finite training loss for seed(s) {bad} between steps {first_step} and '
        f'{last_step}. Lower the learning rate or check the data; checkpoints up to step '
        f'{first_step - 1} are intact.')


@dataclasses.dataclass
class Setup:
  """Everything a run of the ensemble needs before its first step (also to restore one)."""
  model: Any
  stats: normalization.ChannelStats
  positions: np.ndarray
  num_steps: int
  optimizer: Any
  mesh: Any
  state: ensemble.EnsembleState
  strategy: str
  input_pipeline: str  # 'device', 'tf_data' or 'stream'.
  data: dataset.Dataset
  lookahead: Lookahead

  def examples(self, split: dict[str, np.ndarray]):
    """``split`` (of :attr:`data`, or a subset of one) as this run's evaluation and scoring
    passes read it: on the devices, from the host, or streamed from disk."""
    return feed.examples_for(self.data, split, self.stats, self.mesh, self.input_pipeline)


def input_pipeline(config: ml_collections.ConfigDict, data: dataset.Dataset) -> str:
  """``config.runtime.input_pipeline`` resolved for this dataset and this machine's devices."""
  if data.streamed:
    return feed.resolve('stream', 0, config.runtime.device_data_max_fraction)
  data_bytes = data.train['image'].nbytes + data.test['image'].nbytes
  return feed.resolve(config.runtime.input_pipeline, data_bytes,
                      config.runtime.device_data_max_fraction)


def setup(config: ml_collections.ConfigDict, data: dataset.Dataset, seeds: list[int],
          keep_positions: np.ndarray | None = None, model_name: str | None = None,
          trackers: Sequence[Tracker] = (), fit_to_data: bool = True) -> Setup:
  """Model, optimizer (its schedule spans the whole budget), mesh, initial state (carrying
  ``trackers``), input path. A model fitted to data (airbench's whitening) is fitted to the
  run's training images unless ``fit_to_data`` is False: for a state that a checkpoint will
  replace, whose constants it holds."""
  model = models.from_config(config, data.num_classes, model_name,
                             dtype=config.model.compute_dtype, batch_norm_axis_name=ensemble.DATA)
  stats = feed.channel_stats_for(config, data)
  positions = (np.arange(len(data.train['label'])) if keep_positions is None
               else np.asarray(keep_positions))
  num_steps = optim.total_steps(config, positions.shape[-1])
  optimizer = optim.make_optimizer(config, num_steps)
  mesh = ensemble.make_mesh(len(seeds), config.optim.batch_size)
  # Initialisation reads only the input's shape (a model fitted to data fits it to this sample
  # unless refitted below).
  sample = (np.zeros((1, *data.image_shape), np.uint8) if data.streamed
            else data.train['image'][:1])
  lookahead = Lookahead.from_config(config, num_steps)
  constants = None
  if fit_to_data and models.fits_to_data(model):  # Per-seed subsets: each seed its own fit.
    kept = positions if positions.ndim == 2 else positions[None]
    fitted = [model.fit_constants(feed.fit_images(data, row, model.fit_examples, stats))
              for row in kept]
    constants = fitted if len(fitted) == len(seeds) else fitted * len(seeds)
  state = ensemble.init_ensemble(model, optimizer, seeds, normalization.normalize(sample, stats)[0],
                                 len(data.train['label']), mesh, trackers, constants, lookahead)
  if model_name in (None, config.model.name):  # The recipe's groups are its model's.
    optim.check_param_groups(config, state.params)
  return Setup(model, stats, positions, num_steps, optimizer, mesh, state,
               ensemble.resolve_strategy(config.runtime.seed_strategy, state.params),
               input_pipeline(config, data), data, lookahead)


# The jitted training steps of the last few distinct recipes: the retraining runs of a pipeline
# (every subset at one budget: the same network, optimizer and schedule) share one trace and
# compilation instead of redoing them per run.
_TRAIN_STEPS: collections.OrderedDict = collections.OrderedDict()


def _train_step(config: ml_collections.ConfigDict, run: Setup, trackers: Sequence[Tracker]):
  """:func:`ensemble.make_train_step` for ``run``, made once per distinct step: everything it
  closes over is fixed by these (the optimizer, its schedule, the loss and the lookahead by
  ``config.optim`` and the number of steps)."""
  make = lambda: ensemble.make_train_step(  # noqa: E731
      run.model, run.optimizer, run.mesh, run.strategy, run.stats, trackers,
      optim.training_loss(config), run.lookahead)
  key = (run.model, config.optim.to_json(), run.num_steps, run.mesh, run.strategy, run.stats,
         tuple(trackers))
  try:
    hash(key)
  except TypeError:  # A model with an unhashable field: a step of its own.
    return make()
  if key not in _TRAIN_STEPS:
    _TRAIN_STEPS[key] = make()
    while len(_TRAIN_STEPS) > 4:
      _TRAIN_STEPS.popitem(last=False)
  _TRAIN_STEPS.move_to_end(key)
  return _TRAIN_STEPS[key]


def train_ensemble(config: ml_collections.ConfigDict, workdir: str | Path,
                   data: dataset.Dataset, *, seeds: list[int],
                   keep_positions: np.ndarray | None = None, labels: np.ndarray | None = None,
                   checkpoint_steps: tuple[int, ...] = (), stop_step: int | None = None,
                   model_name: str | None = None,
                   initial_state: ensemble.EnsembleState | None = None,
                   eval_splits: dict[str, dict[str, np.ndarray]] | None = None,
                   required_steps: tuple[int, ...] | None = None,
                   trackers: Sequence[Tracker] = ()) -> TrainResult:
  """Trains ``len(seeds)`` models as one ensemble; resumes from ``workdir/checkpoints``.

  Args:
    config: training fields (see ``configs/train.py``).
    workdir: this run's directory (checkpoints, metrics).
    data: the dataset.
    seeds: one model per seed: its initialisation and its data order.
    keep_positions: positions into ``data.train`` to train on (default: all), or ``(K, n)``:
      each seed's own (per-seed random subsets).
    labels: training labels replacing ``data.train['label']`` (label noise).
    checkpoint_steps: steps to save besides the final one (0 = initialisation).
    stop_step: stop early at this step, the schedule still spanning the whole budget (the
      paper's scoring runs are the first epochs of a full run).
    model_name: overrides ``config.model.name``.
    initial_state: start from this state (at its step, with its optimizer state) instead of a
      fresh initialisation, e.g. children spawned from a parent run; a checkpoint in
      ``workdir`` still takes precedence (resuming).
    eval_splits: other splits to evaluate the final models on, by name (labels from the split).
    trackers: training-time statistics to accumulate (:mod:`datadiet.scores.trackers`), e.g.
      the forgetting counts; none by default (the step then gathers nothing for them).
    required_steps: checkpoints that must exist when this returns (default: none beyond the
      usual resume). One missing *before* the latest saved step (a damaged checkpoint moved
      aside, a scoring step added to a finished run) is re-created by training again from the
      saved step before it, up to the last missing one: batches are a pure function of
      ``(data_seed, seed, step)``, so the retrained states are those of the original run.
      Such a repair logs no metrics (the original run's rows stand) and saves no step twice.
  """
  workdir = Path(workdir)
  mngr = checkpoints.manager(workdir / 'checkpoints')
  saved = sorted(mngr.all_steps())
  missing = sorted(set(required_steps or ()) - set(saved))
  # Resume from the latest checkpoint, or, to re-create a missing one, from the last before it.
  resume_from = [s for s in saved if not missing or s < missing[0]]
  run = setup(config, data, seeds, keep_positions, model_name, trackers,
              fit_to_data=not resume_from and initial_state is None)
  model, stats, positions, mesh, state, strategy = (
      run.model, run.stats, run.positions, run.mesh, run.state, run.strategy)
  num_steps = run.num_steps if stop_step is None else min(stop_step, run.num_steps)
  repair = bool(missing) and bool(saved) and (not resume_from or resume_from[-1] < saved[-1])
  if repair:
    num_steps = missing[-1]
    logging.info('Re-creating checkpoints %s of %s from step %s.', missing, workdir,
                 resume_from[-1] if resume_from else 'initialisation')
  resumed = bool(resume_from)
  if resumed:
    start_step = resume_from[-1]
    state = checkpoints.restore(mngr, start_step, state)
    logging.info('Resuming %s from step %d.', workdir, start_step)
  else:
    if initial_state is not None:
      state = _placed_like(initial_state, state)
    start_step = int(multihost.to_host(state.step)[0])
    if start_step in checkpoint_steps and start_step not in saved:
      checkpoints.save(mngr, start_step, state)
  save_steps = {s for s in checkpoint_steps if 0 < s <= num_steps} | {num_steps}
  if config.runtime.checkpoint_every_steps:
    save_steps |= set(range(config.runtime.checkpoint_every_steps, num_steps,
                            config.runtime.checkpoint_every_steps))
  save_steps -= set(saved)  # Never a step twice (a repair passes steps saved already).

  train_step = _train_step(config, run, trackers)
  eval_step = ensemble.make_eval_step(model, mesh, strategy, stats,
                                      config.data.get('test_augment', 'none'))
  writer = metrics.MetricWriter(workdir, tensorboard=config.runtime.tensorboard,
                                enabled=multihost.is_writer() and not repair,
                                resume_step=start_step if resumed else None)
  progress = metrics.Progress(num_steps, start_step, len(seeds) * config.optim.batch_size,
                              label=f'[{workdir.name}] ')
  augmentation = train_order.augmentation_of(config.data.augment)
  order = train_order.TrainOrder(positions, seeds, config.optim.batch_size, config.data.order_seed,
                                 augment=augmentation == 'pad_crop_flip',
                                 **train_order.crop_flip_options(config.data))
  if start_step < num_steps:
    readers = ''
    if run.input_pipeline == 'stream':
      reader = image_reader.ImageReader(data.reader, data.image_shape)
      readers = (f', read by {reader.readers} '
                 f'{image_reader.resolve_workers(reader.workers)} (config: '
                 f'{config.runtime.stream_readers} {config.runtime.stream_workers!r})')
    # Once per process and choice: a pipeline's many runs take the same path.
    said = (run.input_pipeline, config.runtime.input_pipeline, readers)
    if said not in _PIPELINES_SAID:
      _PIPELINES_SAID.add(said)
      logging.info('[%s] input pipeline: %s (config: %r)%s.', workdir.name, run.input_pipeline,
                   config.runtime.input_pipeline, readers)
  table, batches = feed.train_batches(
      run.input_pipeline, data, data.train['label'] if labels is None else labels,
      order, start_step, num_steps - start_step, ensemble.batch_sharding(mesh), augmentation)
  test_examples = run.examples(data.test)
  pending, first_pending = [], start_step + 1
  step = start_step
  for batch in batches:
    state, step_metrics = train_step(state, batch, table)
    pending.append(step_metrics)
    step += 1
    if step == start_step + 1 < num_steps:  # Compiled and run once: time from here on.
      jax.block_until_ready(step_metrics)
      progress.start_clock(step)
    if step % config.runtime.log_every_steps == 0 or step in save_steps or step == num_steps:
      values = multihost.to_host(pending)
      losses = np.stack([v['loss'] for v in values])
      _check_finite(losses, seeds, first_pending, step)
      writer.write(step, 'train', seeds, {
          'loss': losses.mean(0), 'accuracy': np.stack([v['accuracy'] for v in values]).mean(0),
          'images_per_s': np.full(len(seeds), progress.rate(step) / len(seeds))})
      progress.report(step, f'loss {losses[-1].mean():.3f}')
      pending, first_pending = [], step + 1
    if (config.runtime.eval_every_steps and step % config.runtime.eval_every_steps == 0
        and step != num_steps):
      writer.write(step, 'test', seeds, evaluate(eval_step, state, test_examples,
                                                 config.runtime.eval_batch_size))
    if step in save_steps:
      checkpoints.save(mngr, step, state)
  del table, batches  # Frees the device copy of the training set before evaluating.
  training_rate = progress.rate(step)  # Training alone: evaluation and compilation left out.
  test = evaluate(eval_step, state, test_examples, config.runtime.eval_batch_size)
  extra = {name: evaluate(eval_step, state, run.examples(split), config.runtime.eval_batch_size)
           for name, split in (eval_splits or {}).items()}
  # A relaunch of a finished run logs nothing twice, but does log the final evaluation if the
  # run was stopped between its last checkpoint and that row.
  if start_step < num_steps or not writer.has_rows(num_steps, 'test'):
    writer.write(num_steps, 'test', seeds, test)
    for name, values in extra.items():
      writer.write(num_steps, name, seeds, values)
  writer.close()
  return TrainResult(state=state, seeds=list(seeds), num_steps=num_steps, start_step=start_step,
                     test=test, images_per_second=training_rate, evaluations=extra)


def _placed_like(state: ensemble.EnsembleState,
                 like: ensemble.EnsembleState) -> ensemble.EnsembleState:
  """``state``'s values with the shapes checked against, and shardings taken from, ``like``."""
  def place(value, reference):
    if np.shape(value) != reference.shape:
      raise errors.InputError(f'initial_state has a leaf of shape {np.shape(value)} where the '
                              f'run needs {reference.shape} (one entry per seed).')
    return multihost.to_device(np.asarray(value), reference.sharding)
  return jax.tree.map(place, multihost.to_host(state), like)


def check_checkpoint_steps(config: ml_collections.ConfigDict, num_steps: int) -> None:
  """Refuses ``config.runtime.checkpoint_steps`` (the train job's extra checkpoints) outside a
  run of ``num_steps`` steps."""
  beyond = [s for s in config.runtime.checkpoint_steps if not 0 <= s <= num_steps]
  if beyond:
    raise errors.InputError(f'config.runtime.checkpoint_steps {beyond} lie outside the run\'s '
                            f'{num_steps} steps; checkpoint at steps in [0, {num_steps}].')


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | Path) -> TrainResult:
  """The ``train`` job: K seeds on the whole training set, optionally with label noise."""
  workdir = Path(workdir)
  data = sources.for_config(config)
  labels, _ = noise.training_labels(config, data, workdir)
  start = time.perf_counter()
  result = train_ensemble(config, workdir, data, seeds=list(config.pretrain.seeds), labels=labels,
                          checkpoint_steps=tuple(config.runtime.checkpoint_steps))
  logging.info('Trained %d seeds for %d steps in %.0fs; test accuracy %s.',
               len(config.pretrain.seeds), result.num_steps, time.perf_counter() - start,
               np.round(result.test['accuracy'], 4).tolist())
  return result
