"""Stages 1 and 2: pretrain K seeds to the scoring steps, then score every training example.

Pretraining runs the first steps of a full run (the schedule spans the whole budget) and
checkpoints each scoring step; with ``forgetting`` requested it trains the whole budget, since
forgetting counts need full training. Scoring restores each scoring step's checkpoint (restoring
step k returns step k, so step 0 really is the initialisation) and writes
``scores/<score>@<step>.npz`` keyed by example id. Architectures listed in
``config.scores.compare_models`` go through the same two stages, with the same seeds, steps and
scores, into ``pretrain_<model>/`` and ``scores_<model>/``: the report correlates their rankings
with the scoring model's, and ``prune.by`` may name their scores (``'mlp:el2n@60'``).
"""

from __future__ import annotations

import json
import shutil

import ml_collections

from datadiet import (atomic_files, config_checks, errors, models, multihost, score_files,
                      scoring)
from datadiet.scores import registry
from datadiet.stages.context import Context
from datadiet.stages.registry import STAGES
from datadiet.stages.protocol import Stage
from datadiet.train import checkpoints, ensemble, loop, metrics, optim

# What pretraining and scoring compute depends on: the data, the architecture and its training
# recipe, the seeds, and which scores are wanted when.
READS = ('data', 'model', 'optim', 'pretrain', 'scores')


def pretrain_stop_step(ctx: Context) -> int:
  """The last step pretraining must reach: the whole budget for a score read from a tracker."""
  if any(registry.get(name).needs == 'tracker' and not registry.get(name).at_score_steps
         for name in ctx.config.scores.names):
    return optim.total_steps(ctx.config, len(ctx.data.train['label']))
  return max(ctx.config.scores.steps)


def check_workdir(ctx: Context) -> None:
  """What the workdir's pretraining holds allows this config (see :func:`check_trackers`)."""
  for model in ctx.score_models:
    check_trackers(ctx, model, record=False)


def check_trackers(ctx: Context, model: str, record: bool = True) -> None:
  """The training-time trackers a pretraining records are fixed when it starts
  (``pretrain/trackers.json``): its checkpoints hold exactly those, so a config that asks for
  others (a training-time score added or removed) is refused in one line rather than failing to
  restore them."""
  directory = ctx.pretrain_dir_for(model)
  wanted = sorted(t.name for t in registry.trackers_for(ctx.config.scores.names))
  path = directory / 'trackers.json'
  recorded = json.loads(path.read_text()) if path.exists() else wanted
  if recorded == wanted:
    # Every process writes (the same bytes, unchanged if there): one that skipped the write
    # because it saw the file process 0 had just written would skip its commit barrier too.
    if record:
      atomic_files.write_json(path, wanted)
    return
  added = sorted(set(wanted) - set(recorded))
  removed = sorted(set(recorded) - set(wanted))
  raise errors.InputError(
      f'{directory} records the training-time statistics {recorded or "none"} for its '
      f'checkpoints, but config.scores.names now needs {wanted or "none"} (added {added}, '
      f'removed {removed}); a training-time score cannot be added to or dropped from a '
      'pretraining that has started. Use a new --workdir, or restore config.scores.names.')


def scoring_seeds_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """``config`` as the scoring seeds train: ``optim.label_smoothing`` replaced by
  ``pretrain.label_smoothing`` when that is set (the retraining seeds keep the recipe's)."""
  smoothing = config.pretrain.get('label_smoothing', None)
  return config if smoothing is None else optim.with_fields(config, label_smoothing=smoothing)


def pretrain(ctx: Context) -> None:
  config = scoring_seeds_config(ctx.config)
  for model in ctx.score_models:
    check_trackers(ctx, model)
    missing = missing_checkpoints(ctx, model)
    # Also when every checkpoint is saved but the final evaluation is not logged (the run was
    # stopped, or ran out of memory, evaluating): the relaunch restores the last one and logs it.
    evaluated = metrics.logged(ctx.pretrain_dir_for(model), pretrain_stop_step(ctx), 'test')
    if missing or not evaluated:
      loop.train_ensemble(config, ctx.pretrain_dir_for(model), ctx.data,
                          seeds=list(ctx.config.pretrain.seeds), labels=ctx.train_labels,
                          checkpoint_steps=tuple(ctx.config.scores.steps),
                          stop_step=pretrain_stop_step(ctx), model_name=model,
                          required_steps=tuple(missing),
                          trackers=registry.trackers_for(ctx.config.scores.names))


def missing_checkpoints(ctx: Context, model: str) -> list[int]:
  """Steps whose checkpoint scoring still needs (a score file is missing) and that are not
  saved: a new scoring step, or a damaged checkpoint moved aside."""
  needed = {step for name, step in wanted(ctx) if not registry.get(name).model_free
            and not ctx.score_path(name, step, model).exists()}
  return sorted(needed - set(checkpoints.saved_steps(ctx.pretrain_dir_for(model) / 'checkpoints')))


def pretrain_complete(ctx: Context) -> bool:
  """Whether every checkpoint that scoring needs is saved (else a finished pretrain re-opens)."""
  return not any(missing_checkpoints(ctx, model) for model in ctx.score_models)


def score_complete(ctx: Context) -> bool:
  """Whether every score file the config asks for exists."""
  return all(ctx.score_path(name, step, model).exists()
             for model in ctx.score_models for name, step in wanted(ctx))


def wanted(ctx: Context) -> list[tuple[str, int]]:
  """(score, step) pairs to compute: a model's scores at every scoring step, model-free ones
  once at the first, a tracker's at the end of pretraining (or, for an accumulated score, at
  every scoring step, from its checkpoint)."""
  scores = [registry.get(name) for name in ctx.config.scores.names]
  wanted = [(s.name, step) for step in ctx.config.scores.steps for s in scores
            if (s.per_batch and not s.model_free) or s.at_score_steps]
  wanted += [(s.name, min(ctx.config.scores.steps)) for s in scores if s.model_free]
  wanted += [(s.name, pretrain_stop_step(ctx)) for s in scores
             if not s.per_batch and not s.at_score_steps]
  return wanted


def check_computed(ctx: Context, user: str, score_name: str, step: int | None,
                   model: str | None = None) -> None:
  """Raises an InputError unless the run computes ``score_name`` at ``step`` (default: the last
  scoring step) with ``model`` (default: the scoring model), which ``user`` (``'Subset x prunes
  by'``, ``'config.analyses.y ranks by'``) needs."""
  step = ctx.score_step(step)
  computed = set(wanted(ctx))
  if (score_name, step) not in computed or (model or ctx.config.model.name) not in ctx.score_models:
    elsewhere = sorted(t for s, t in computed if s == score_name)
    hint = (f' {score_name} is computed at step {elsewhere[-1]}: write {score_name}@'
            f'{elsewhere[-1]}.' if elsewhere else
            f' Add {score_name!r} to config.scores.names.' if score_name in registry.SCORES
            else '')
    raise errors.InputError(
        f'{user} {score_name} at step {step}, which this run does not compute; computed: '
        f'{", ".join(f"{s}@{t}" for s, t in sorted(computed))}.{hint}')


def check_pretrain(ctx: Context, num_train: int) -> None:
  """The scoring steps: distinct steps within the run (pretraining checkpoints each)."""
  steps = ctx.config.scores.steps
  if (not isinstance(steps, (tuple, list)) or not steps
      or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in steps)):
    raise errors.InputError(f'config.scores.steps must be a non-empty tuple of steps >= 0 (0 is '
                            f'the initialisation), got {steps!r}.')
  if len(set(steps)) != len(steps):
    raise errors.InputError(f'config.scores.steps repeats a step: {steps!r}; give each once.')
  num_steps = optim.total_steps(ctx.config, num_train)
  beyond = [s for s in steps if s > num_steps]
  if beyond:
    raise errors.InputError(
        f'config.scores.steps {beyond} lie beyond the run\'s {num_steps} steps (budget '
        f'{ctx.config.optim.budget} {ctx.config.optim.budget_unit}); score at steps in '
        f'[0, {num_steps}].')
  registry.check(ctx.config.scores.names)  # Which scores decide what pretraining tracks.
  if ctx.config.pretrain.get('label_smoothing', None) is not None:
    config_checks.in_interval('pretrain.label_smoothing', ctx.config.pretrain.label_smoothing,
                              0, 1, open_high=True, hint=' (None: optim.label_smoothing)')
  for model in ctx.score_models:
    models.from_config(ctx.config, ctx.data.num_classes, model)


def check_score(ctx: Context, num_train: int) -> None:
  """The scores and how they are computed: known names, dtype, batch split over the devices."""
  del num_train
  config = ctx.config
  if not config.scores.names:
    raise errors.InputError('config.scores.names is empty; name at least one score, e.g. '
                            "--config.scores.names=\"('el2n',)\".")
  registry.check(config.scores.names)
  config_checks.positive(config, ('runtime.score_batch_size',))
  config_checks.non_negative_ints(config, ('scores.random_seed',))
  try:
    models.compute_dtype(config.scores.dtype)
  except errors.InputError as e:
    raise errors.InputError(f'config.scores.dtype: {e}') from e
  mesh = ensemble.make_mesh(len(config.pretrain.seeds), config.optim.batch_size)
  ensemble.check_batch_split(config.runtime.score_batch_size, mesh, 'runtime.score_batch_size')


def score(ctx: Context) -> None:
  for model in ctx.score_models:
    _score_model(ctx, model)


def _score_model(ctx: Context, model: str) -> None:
  config, data = ctx.config, ctx.data
  by_step: dict[int, list[str]] = {}
  for name, step in wanted(ctx):
    if not ctx.score_path(name, step, model).exists():
      by_step.setdefault(step, []).append(name)
  if not by_step:
    return
  # As pretraining saved it; every state scored is a checkpoint's, constants included.
  run = loop.setup(config, data, list(config.pretrain.seeds), model_name=model,
                   trackers=registry.trackers_for(config.scores.names), fit_to_data=False)
  # The trained parameters (float32 whatever the compute dtype) scored in score_dtype.
  score_model = models.from_config(config, data.num_classes, model, dtype=config.scores.dtype,
                                   batch_norm_axis_name=ensemble.DATA)
  examples = run.examples({**data.train, 'label': ctx.train_labels})
  mngr = checkpoints.manager(ctx.pretrain_dir_for(model) / 'checkpoints')
  for step, names in sorted(by_step.items()):
    state = checkpoints.restore(mngr, step, run.state)
    # A pass killed midway resumes from its saved parts (a hidden directory: not a result).
    partial = ctx.scores_dir_for(model) / f'.pass@{step}'
    per_seed = scoring.score_split(score_model, state, examples, data.train['id'], names,
                                   config.runtime.score_batch_size, config.runtime.seed_strategy,
                                   config.scores.random_seed, resume_path=partial)
    for name, values in per_seed.items():
      score_files.save_scores(ctx.score_path(name, step, model), data.train['id'], values,
                              score=name, dataset=data.name, model=model, step=step,
                              seeds=list(config.pretrain.seeds))
    if multihost.is_writer() and partial.is_dir():  # Every score of the pass is saved.
      shutil.rmtree(partial)


PRETRAIN = STAGES.register(Stage(
    'pretrain', pretrain, reads=READS, check=check_pretrain, complete=pretrain_complete,
    check_workdir=check_workdir))
SCORE = STAGES.register(Stage(
    'score', score, reads=READS, check=check_score, outputs=('scores*/*.npz', 'label_noise.npz'),
    complete=score_complete))
