"""Checks a config against its dataset and the devices before a run touches its workdir.

A misspelt name or an impossible combination (an offset band that runs off the end of the
dataset, a subset pruned by a score the run never computes, a batch that does not split over
the devices) would otherwise surface hours into a run, after pretraining; here it is an
:class:`~datadiet.errors.InputError` naming the field and the valid choices, raised before
anything is written.
"""

from __future__ import annotations

import ml_collections

from datadiet import errors, models, pruning, scoring
from datadiet.data import noise, sources
from datadiet.train import ensemble, loop, optim


def check(config: ml_collections.ConfigDict) -> None:
  """Raises :class:`~datadiet.errors.InputError` for anything the run could not do."""
  if config.get('job') == 'pipeline':
    from datadiet import experiment  # The pipeline imports the whole stack.
    experiment.check_stages(config.stages)
    scoring.check_scores(config.scores)
  for field in ('compute_dtype', 'score_dtype'):
    if field in config:
      try:
        models.compute_dtype(config[field])
      except errors.InputError as e:
        raise errors.InputError(f'config.{field}: {e}') from e
  data = sources.load(config.dataset, data_dir=config.get('data_dir'))
  loop.input_pipeline(config, data)  # A known path that this environment can run.
  noise.check_fraction(config.label_noise_fraction)
  if config.seed_strategy not in ensemble.STRATEGY_CHOICES:
    raise errors.InputError(f'Unknown seed_strategy {config.seed_strategy!r}; valid: '
                            f'{", ".join(ensemble.STRATEGY_CHOICES)}.')
  num_train = len(data.train['label'])
  optim.make_optimizer(config, optim.total_steps(config, num_train))  # Budget unit, schedule.
  seed_groups = [('seeds', config.seeds)]
  model_names = [config.model]
  if config.get('job') == 'pipeline':
    seed_groups.append(('retrain_seeds', config.retrain_seeds))
    model_names += [config.retrain_model or config.model, *config.compare_models]
  for name in model_names:
    models.get_model(name, num_classes=data.num_classes)
  meshes = {}
  for field, seeds in seed_groups:
    if not seeds:
      raise errors.InputError(f'config.{field} is empty; give at least one seed.')
    meshes[field] = ensemble.make_mesh(len(seeds), config.batch_size)  # Does the batch split?
  if config.get('job') == 'pipeline':
    _check_pipeline(config, num_train, data_devices=meshes['seeds'].shape[ensemble.DATA])


def _check_pipeline(config: ml_collections.ConfigDict, num_train: int, data_devices: int) -> None:
  from datadiet import experiment  # The stages import the whole stack.
  from datadiet.stages import pretrain_and_score, prune
  from datadiet.stages.context import Context
  if config.score_batch_size % data_devices:
    raise errors.InputError(
        f'score_batch_size {config.score_batch_size} does not split over the {data_devices} '
        f'devices of the data axis; use a multiple of {data_devices}.')
  ctx = Context(config, workdir=None)  # Planning only: nothing is read from or written there.
  for analysis in experiment.ANALYSES:
    if analysis.NAME in config.stages:
      analysis.check(ctx, num_train)
  computed = set(pretrain_and_score.wanted(ctx))
  for entry in prune.subset_plan(ctx):  # Methods, prune_by models, fractions.
    size = pruning.keep_size(num_train, entry['fraction_pruned'])
    if entry['method'] == 'random':
      continue
    if (entry['score'], entry['step']) not in computed:
      raise errors.InputError(
          f'Subset {entry["name"]} prunes by {entry["score"]} at step {entry["step"]}, which '
          f'this run does not compute; computed: '
          f'{", ".join(f"{s}@{t}" for s, t in sorted(computed))}.')
    offset = prune.offset_size(config, num_train) if entry['method'] == 'offset' else 0
    if offset + size > num_train:
      raise errors.InputError(
          f'Subset {entry["name"]}: dropping the {offset} hardest (offset_fraction '
          f'{config.offset_fraction}) and keeping the next {size} needs {offset + size} '
          f'examples, but the dataset has {num_train}; lower offset_fraction below '
          f'{entry["fraction_pruned"]:g} (the fraction pruned).')
