"""Stage 3: the kept subsets, one per method × score × fraction, saved as id lists.

``subsets/<name>.npz`` holds the kept ``ids`` and JSON ``metadata`` (method, score, step, the
model that scored, fraction pruned, size). For an ``image_folder:`` dataset a ``<name>.csv``
keep-list of file names is written next to it, so a user can prune their own folder with one
command.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from absl import logging

from datadiet import atomic_files, config_checks, errors, pruning, pruning_methods
from datadiet.scores import registry
from datadiet.stages import pretrain_and_score
from datadiet.stages.context import Context
from datadiet.stages.registry import STAGES
from datadiet.stages.protocol import Stage


def subset_plan(ctx: Context) -> list[dict]:
  """Every subset the config asks for, as metadata dicts with a unique ``name``: methods ×
  scores × fractions, then the ``prune.extra`` subsets that product does not hold already."""
  config = ctx.config
  pruning_methods.check(config.prune.methods)
  default_step = ctx.score_step(config.prune.step)
  prune_by = [_parse_prune_by(ctx, entry, default_step) for entry in config.prune.by]
  plan = []
  for fraction in config.prune.fractions:
    for method in config.prune.methods:
      if not pruning_methods.get(method).uses_scores:
        plan.append(_entry(ctx, method, None, fraction))
        continue
      plan += [_entry(ctx, method, by, fraction) for by in prune_by]
  names = {entry['name'] for entry in plan}
  for extra in _extra_subsets(ctx, default_step):
    if extra['name'] not in names:
      plan.append(extra)
      names.add(extra['name'])
  return plan


def _entry(ctx: Context, method: str, by: tuple[str, str, int] | None, fraction: float) -> dict:
  """One subset's plan entry: ``method`` keeping by ``by`` = (model, score, step), pruning
  ``fraction`` of the training set (checked)."""
  pruning.keep_size(len(ctx.data.train['label']), fraction)  # Validates the fraction.
  if by is None:
    return dict(name=f'{method}-p{fraction:g}', method=method, score=None, step=None,
                score_model=None, fraction_pruned=fraction)
  model, score, step = by
  qualified = score if model == ctx.config.model.name else f'{model}.{score}'
  return dict(name=f'{method}-{qualified}@{step}-p{fraction:g}', method=method, score=score,
              step=step, score_model=model, fraction_pruned=fraction)


def _extra_subsets(ctx: Context, default_step: int) -> list[dict]:
  """``config.prune.extra``: single subsets ``(method, '<score>[@<step>]', fraction)`` beside
  the product (e.g. Figure 1's panel of scoring steps at one fraction); ``''`` for a method
  that reads no score."""
  entries = []
  for extra in ctx.config.prune.get('extra', ()):
    if not (isinstance(extra, (tuple, list)) and len(extra) == 3):
      raise errors.InputError(
          f"config.prune.extra entries are (method, '<score>[@<step>]', fraction), e.g. "
          f"('keep_hardest', 'el2n@24', 0.5); got {extra!r}.")
    method, by, fraction = extra
    pruning_methods.check([method])
    uses_scores = pruning_methods.get(method).uses_scores
    if uses_scores != bool(by):
      raise errors.InputError(
          f'config.prune.extra entry {tuple(extra)!r}: {method} '
          + ("keeps by a score: give one, e.g. 'el2n@24'." if uses_scores else
             "reads no score: give ''."))
    parsed = _parse_prune_by(ctx, by, default_step) if uses_scores else None
    entries.append(_entry(ctx, method, parsed, fraction))
  return entries


def _parse_prune_by(ctx: Context, entry: str, default_step: int):
  """``'el2n'``, ``'el2n@7800'`` or ``'mlp:el2n@60'`` → ``(model, score, step)``. A bare name is
  the score at ``default_step`` (``prune.step``, else the last scoring step), or at the one step
  the run computes it when there is one (AUM and forgetting at the end of pretraining)."""
  score_models = ctx.score_models
  model, _, rest = entry.rpartition(':')
  model = model or score_models[0]
  if model not in score_models:
    raise errors.InputError(f'prune_by entry {entry!r} names model {model!r}, which is not scored; '
                            f'scored models: {", ".join(score_models)} (add it to '
                            'config.scores.compare_models).')
  score, _, step = rest.partition('@')
  if not score or (step and not step.isdigit()):
    raise errors.InputError(f'prune_by entry {entry!r} is not of the form <score>, '
                            '<score>@<step> or <model>:<score>[@<step>] (e.g. el2n@7800).')
  if step:
    return model, score, int(step)
  computed = {t for name, t in pretrain_and_score.wanted(ctx) if name == score}
  return model, score, computed.pop() if len(computed) == 1 else default_step


def select(ctx: Context, entry: dict, scores: np.ndarray | None = None,
           pool: np.ndarray | None = None, options: dict | None = None) -> np.ndarray:
  """Positions into the training split kept by one plan entry: ``(size,)``, or ``(M, size)``
  for a method drawn per retraining seed (one row per ``retrain.seeds``). ``scores`` and
  ``options`` (:meth:`Method.resolved`): the entry's, when the caller has them already.
  ``pool``: positions to select from (the fraction is of the pool; an analysis holding out a
  validation split), default all."""
  config = ctx.config
  pool = np.arange(len(ctx.train_labels)) if pool is None else np.asarray(pool)
  labels = ctx.train_labels[pool]
  method = pruning_methods.get(entry['method'])
  size = pruning.keep_size(len(pool), entry['fraction_pruned'])
  if scores is None:
    scores = select_scores(ctx, entry)
  if scores is not None:
    scores = scores[pool]
  options = dict(method.resolved(config, entry['fraction_pruned']) if options is None
                 else options)
  for name in method.score_options:  # Another score the method reads (CCS's cutoff by AUM).
    if options[name] is not None:
      score, step = score_option(ctx, entry, options[name])
      options[name] = ctx.mean_score(score, step, entry.get('score_model'))[pool]
  if options.get('per_seed'):
    seeds = [pruning_methods.subset_seed(config.prune.seed, seed) for seed in config.retrain.seeds]
    return pool[np.stack([method.select(scores, labels, size, seed, **options) for seed in seeds])]
  return pool[method.select(scores, labels, size, config.prune.seed, **options)]


def select_scores(ctx: Context, entry: dict) -> np.ndarray | None:
  """The K-seed mean scores a plan entry prunes by (None for a method that uses none)."""
  if not pruning_methods.get(entry['method']).uses_scores:
    return None
  return ctx.mean_score(entry['score'], entry['step'], entry.get('score_model'))


def score_option(ctx: Context, entry: dict, spec: str) -> tuple[str, int]:
  """``'aum'`` or ``'aum@78000'`` → (score, step): without a step, where the run computes it
  (a training-time score at the end of pretraining, others at the subset's own step)."""
  score, _, step = spec.partition('@')
  if step:
    if not step.isdigit():
      raise errors.InputError(f'{spec!r} is not of the form <score> or <score>@<step>.')
    return score, int(step)
  steps = [s for name, s in pretrain_and_score.wanted(ctx) if name == score]
  return score, (entry['step'] if entry['step'] in steps or not steps else max(steps))


def prune(ctx: Context) -> None:
  ids = ctx.data.train['id']
  ctx.subsets_dir.mkdir(parents=True, exist_ok=True)
  for entry in subset_plan(ctx):
    path = ctx.subsets_dir / f'{entry["name"]}.npz'
    if path.exists():
      continue
    scores = select_scores(ctx, entry)  # Read once: for the selection and the check below.
    # The options that shape it (β, offset end, cutoff score), also the subset's own record.
    options = pruning_methods.get(entry['method']).resolved(ctx.config, entry['fraction_pruned'])
    kept = ids[select(ctx, entry, scores, options=options)]
    entry = dict(entry, size=kept.shape[-1], options=options)
    if scores is not None and np.ptp(scores) == 0:
      logging.warning('Subset %s: %s@%s is the same for every example, so it ranks nothing (the '
                      'subset follows id order); an accumulated score at step 0, or before '
                      'an example is seen twice, is constant.', entry['name'], entry['score'],
                      entry['step'])
    if kept.shape[-1] < ctx.config.optim.batch_size:
      logging.warning('Subset %s keeps %d examples, fewer than one batch of %d: every batch '
                      'repeats examples.', entry['name'], kept.shape[-1],
                      ctx.config.optim.batch_size)
    if kept.ndim == 2:  # One subset per retraining seed.
      entry['seeds'] = list(ctx.config.retrain.seeds)
    if ctx.data.name.startswith('image_folder:'):
      buffer = io.StringIO()
      if kept.ndim == 2:
        csv.writer(buffer).writerows([['seed', 'file']] + [
            [seed, i] for seed, row in zip(entry['seeds'], kept) for i in row])
      else:
        csv.writer(buffer).writerows([['file']] + [[i] for i in kept])
      atomic_files.write_text(ctx.subsets_dir / f'{entry["name"]}.csv', buffer.getvalue())
    atomic_files.write_npz(path, ids=kept, metadata=np.array(json.dumps(entry, sort_keys=True)))


def check(ctx: Context, num_train: int) -> None:
  """Every subset the config asks for can be made: known methods with valid options, scores the
  run computes, bands that fit in the dataset."""
  config = ctx.config
  config_checks.non_negative_ints(config, ('prune.seed',))
  pruning_methods.check(config.prune.methods)
  plan = subset_plan(ctx)  # Methods, prune.by models, fractions, the extra subsets.
  for name in sorted({entry['method'] for entry in plan} | set(config.prune.methods)):
    method = pruning_methods.get(name)
    method.check_options(method.options(config))
  for entry in plan:
    method = pruning_methods.get(entry['method'])
    if method.uses_scores:
      pretrain_and_score.check_computed(ctx, f'Subset {entry["name"]} prunes by',
                                        entry['score'], entry['step'], entry['score_model'])
    resolved = method.resolved(config, entry['fraction_pruned'])
    for name in method.score_options:
      if resolved[name] is not None:
        score, step = score_option(ctx, entry, resolved[name])
        registry.check([score])
        pretrain_and_score.check_computed(
            ctx, f'Subset {entry["name"]} (prune.kwargs.{method.name}.{name}) reads', score,
            step, entry['score_model'])
    size = pruning.keep_size(num_train, entry['fraction_pruned'])
    method.check_subset(method.options(config), num_train, size, entry)


def load_subset(ctx: Context, name: str) -> tuple[np.ndarray, dict]:
  """The kept ids and metadata of a saved subset."""
  with np.load(ctx.subsets_dir / f'{name}.npz', allow_pickle=False) as saved:
    return saved['ids'], json.loads(str(saved['metadata']))


# Per-seed subsets (random) are drawn for the retraining seeds.
STAGE = STAGES.register(Stage(
    'prune', prune, reads=('prune', 'scores', 'retrain.seeds'), check=check,
    outputs=('subsets/*.npz', 'subsets/*.csv')))
