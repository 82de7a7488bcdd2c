"""Checks a config against its dataset and the devices before a run touches its workdir.

A misspelt name or an impossible combination (an offset band that runs off the end of the
dataset, a subset pruned by a score the run never computes, a batch that does not split over
the devices) would otherwise surface hours into a run, after pretraining; here it is an
:class:`~datadiet.errors.InputError` naming the field and the valid choices, raised before
anything is written.
"""

from __future__ import annotations

import ml_collections

from datadiet import errors, models, pruning, selectors
from datadiet.scores import registry
from datadiet.data import noise, sources
from datadiet.train import ensemble, loop, optim


_MAX_SEED = 2**32  # Seeds become uint32 PRNG keys.


def _check_seeds(field: str, seeds) -> None:
  """A non-empty tuple of distinct integers in [0, 2³²): two equal seeds are one model twice."""
  if not isinstance(seeds, (tuple, list)):
    raise errors.InputError(
        f'config.{field} must be a tuple of seeds, got {seeds!r}; e.g. '
        f'--config.{field}="(0,1,2,3)" for four models.')
  if not seeds:
    raise errors.InputError(f'config.{field} is empty; give at least one seed.')
  bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int)
         or not 0 <= s < _MAX_SEED]
  if bad:
    raise errors.InputError(f'config.{field} holds {bad}; seeds are integers in [0, 2**32).')
  repeated = sorted({s for s in seeds if list(seeds).count(s) > 1})
  if repeated:
    raise errors.InputError(f'config.{field} repeats {repeated}: equal seeds train identical '
                            'models; give distinct seeds.')


def _check_positive(config: ml_collections.ConfigDict, fields) -> None:
  for field in fields:
    value = config.get(field)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
      raise errors.InputError(f'config.{field} must be a positive number, got {value!r}.')


def _check_non_negative_ints(config: ml_collections.ConfigDict, fields) -> None:
  for field in fields:
    value = config.get(field)
    if field in config and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
      raise errors.InputError(f'config.{field} must be an integer >= 0, got {value!r}.')


def _check_optimizer(config: ml_collections.ConfigDict) -> None:
  """Values no optimizer can use: they would only fail as a non-finite loss, mid-run."""
  rate = config.get('learning_rate')
  if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < float('inf'):
    raise errors.InputError(f'config.learning_rate must be a positive finite number, got '
                            f'{rate!r}.')
  if 'momentum' in config and not 0 <= config.momentum < 1:
    raise errors.InputError(f'config.momentum must be in [0, 1), got {config.momentum!r}.')
  if 'weight_decay' in config and not config.weight_decay >= 0:
    raise errors.InputError(f'config.weight_decay must be >= 0, got {config.weight_decay!r}.')
  fractions = config.get('lr_decay_fractions', ())
  if any(not 0 < f < 1 for f in fractions) or list(fractions) != sorted(fractions):
    raise errors.InputError(f'config.lr_decay_fractions must be increasing fractions of the run '
                            f'in (0, 1), got {fractions!r}.')


def _check_fields(config: ml_collections.ConfigDict) -> None:
  """What the config alone decides: sizes, budgets, fractions, seeds, dtypes."""
  _check_positive(config, ('batch_size', 'eval_batch_size', 'budget', 'log_every_steps'))
  _check_non_negative_ints(config, ('checkpoint_every_steps', 'eval_every_steps', 'data_seed',
                                    'label_noise_seed', 'prune_seed', 'random_score_seed'))
  _check_optimizer(config)
  for field in ('compute_dtype', 'score_dtype'):
    if field in config:
      try:
        models.compute_dtype(config[field])
      except errors.InputError as e:
        raise errors.InputError(f'config.{field}: {e}') from e
  _check_seeds('seeds', config.seeds)
  if config.get('job') != 'pipeline':
    return
  _check_seeds('retrain_seeds', config.retrain_seeds)
  shared = sorted(set(config.seeds) & set(config.retrain_seeds))
  if shared:
    raise errors.InputError(
        f'config.retrain_seeds shares {shared} with config.seeds: a retrained model would start '
        'from the very initialisation that chose its subset; give retraining seeds of their own.')
  _check_positive(config, ('score_batch_size',))
  if not config.scores:
    raise errors.InputError('config.scores is empty; name at least one score, e.g. '
                            "--config.scores=\"('el2n',)\".")
  selectors.check(config.prune_methods)
  for method in config.prune_methods:
    selectors.get(method).check_config(config)
  steps = config.score_steps
  if (not isinstance(steps, (tuple, list)) or not steps
      or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in steps)):
    raise errors.InputError(f'config.score_steps must be a non-empty tuple of steps >= 0 (0 is '
                            f'the initialisation), got {steps!r}.')
  if len(set(steps)) != len(steps):
    raise errors.InputError(f'config.score_steps repeats a step: {steps!r}; give each once.')


def check(config: ml_collections.ConfigDict) -> None:
  """Raises :class:`~datadiet.errors.InputError` for anything the run could not do."""
  if config.get('job') == 'pipeline':
    from datadiet import experiment  # The pipeline imports the whole stack.
    experiment.check_stages(config.stages)
    registry.check(config.scores)
  _check_fields(config)
  data = sources.load(config.dataset, data_dir=config.get('data_dir'))
  loop.input_pipeline(config, data)  # A known path that this environment can run.
  noise.check_fraction(config.label_noise_fraction)
  if config.seed_strategy not in ensemble.STRATEGY_CHOICES:
    raise errors.InputError(f'Unknown seed_strategy {config.seed_strategy!r}; valid: '
                            f'{", ".join(ensemble.STRATEGY_CHOICES)}.')
  num_train = len(data.train['label'])
  num_steps = optim.total_steps(config, num_train)
  optim.make_optimizer(config, num_steps)  # Budget unit, schedule.
  beyond = [s for s in config.get('checkpoint_steps', ()) if not 0 <= s <= num_steps]
  if beyond:
    raise errors.InputError(f'config.checkpoint_steps {beyond} lie outside the run\'s '
                            f'{num_steps} steps; checkpoint at steps in [0, {num_steps}].')
  seed_groups = [('seeds', config.seeds)]
  model_names = [config.model]
  if config.get('job') == 'pipeline':
    seed_groups.append(('retrain_seeds', config.retrain_seeds))
    model_names += [config.retrain_model or config.model, *config.compare_models]
  for name in model_names:
    models.get_model(name, num_classes=data.num_classes)
  meshes = {}
  for field, seeds in seed_groups:
    meshes[field] = ensemble.make_mesh(len(seeds), config.batch_size)  # Does the batch split?
  if config.get('job') == 'pipeline':
    _check_pipeline(config, num_train, num_steps,
                    data_devices=meshes['seeds'].shape[ensemble.DATA])


def _check_pipeline(config: ml_collections.ConfigDict, num_train: int, num_steps: int,
                    data_devices: int) -> None:
  from datadiet import experiment  # The stages import the whole stack.
  from datadiet.stages import pretrain_and_score, prune
  from datadiet.stages.context import Context
  if config.score_batch_size % data_devices:
    raise errors.InputError(
        f'score_batch_size {config.score_batch_size} does not split over the {data_devices} '
        f'devices of the data axis; use a multiple of {data_devices}.')
  beyond = [s for s in config.score_steps if s > num_steps]
  if beyond:
    raise errors.InputError(
        f'config.score_steps {beyond} lie beyond the run\'s {num_steps} steps (budget '
        f'{config.budget} {config.budget_unit}); score at steps in [0, {num_steps}].')
  ctx = Context(config, workdir=None)  # Planning only: nothing is read from or written there.
  for analysis in experiment.ANALYSES:
    if analysis.NAME in config.stages:
      analysis.check(ctx, num_train)
  computed = set(pretrain_and_score.wanted(ctx))
  for entry in prune.subset_plan(ctx):  # Methods, prune_by models, fractions.
    size = pruning.keep_size(num_train, entry['fraction_pruned'])
    method = selectors.get(entry['method'])
    if method.uses_scores and (entry['score'], entry['step']) not in computed:
      raise errors.InputError(
          f'Subset {entry["name"]} prunes by {entry["score"]} at step {entry["step"]}, which '
          f'this run does not compute; computed: '
          f'{", ".join(f"{s}@{t}" for s, t in sorted(computed))}.')
    method.check_subset(config, num_train, size, entry)
