"""Stage 3: the kept subsets, one per method × score × fraction, saved as id lists.

``subsets/<name>.npz`` holds the kept ``ids`` and JSON ``metadata`` (method, score, step,
fraction pruned, size). For an ``image_folder:`` dataset a ``<name>.csv`` keep-list of file
names is written next to it, so a user can prune their own folder with one command.
"""

from __future__ import annotations

import csv
import json

import numpy as np

from datadiet import pruning, score_files
from datadiet.score_files import write_npz_atomic
from datadiet.stages.context import Context

SCORE_METHODS = ('keep_hardest', 'offset', 'class_balanced', 'ccs')
METHODS = SCORE_METHODS + ('random',)


def subset_plan(ctx: Context) -> list[dict]:
  """Every subset the config asks for, as metadata dicts with a unique ``name``."""
  config = ctx.config
  unknown = sorted(set(config.prune_methods) - set(METHODS))
  if unknown:
    raise ValueError(f'Unknown pruning methods {unknown}; valid methods: {", ".join(METHODS)}.')
  default_step = config.prune_step if config.prune_step is not None else max(config.score_steps)
  prune_by = []
  for entry in config.prune_by:  # 'el2n' (at the default step) or 'el2n@7800'.
    score, _, step = entry.partition('@')
    prune_by.append((score, int(step) if step else default_step))
  plan = []
  for fraction in config.fractions_pruned:
    pruning.keep_size(len(ctx.data.train['label']), fraction)  # Validates the fraction.
    for method in config.prune_methods:
      if method == 'random':
        plan.append(dict(name=f'random-p{fraction:g}', method='random', score=None, step=None,
                         fraction_pruned=fraction))
        continue
      for score, step in prune_by:
        plan.append(dict(name=f'{method}-{score}@{step}-p{fraction:g}', method=method,
                         score=score, step=step, fraction_pruned=fraction))
  return plan


def select(ctx: Context, entry: dict) -> np.ndarray:
  """Positions into the training split kept by one plan entry."""
  config, labels = ctx.config, ctx.train_labels
  num = len(labels)
  size = pruning.keep_size(num, entry['fraction_pruned'])
  if entry['method'] == 'random':
    return pruning.random_subset(num, size, config.prune_seed)
  scores = score_files.load_scores(ctx.score_path(entry['score'], entry['step']),
                                   ids=ctx.data.train['id'], dataset=ctx.data.name,
                                   score=entry['score']).score
  if entry['method'] == 'keep_hardest':
    return pruning.keep_hardest(scores, size)
  if entry['method'] == 'offset':
    return pruning.keep_hardest(scores, size, offset=int(round(config.offset_fraction * num)))
  if entry['method'] == 'class_balanced':
    return pruning.class_balanced(pruning.keep_hardest, scores, labels, size)
  return pruning.coverage_centric(scores, size, seed=config.prune_seed,
                                  num_strata=config.ccs_num_strata,
                                  hard_cutoff=config.ccs_hard_cutoff)


def prune(ctx: Context) -> None:
  ids = ctx.data.train['id']
  ctx.subsets_dir.mkdir(parents=True, exist_ok=True)
  for entry in subset_plan(ctx):
    path = ctx.subsets_dir / f'{entry["name"]}.npz'
    if path.exists():
      continue
    kept = ids[select(ctx, entry)]
    entry = dict(entry, size=len(kept))
    if ctx.data.name.startswith('image_folder:'):
      csv_path = ctx.subsets_dir / f'{entry["name"]}.csv'
      tmp = csv_path.with_name(f'.{csv_path.name}.tmp')
      with open(tmp, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['file'])
        writer.writerows([[i] for i in kept])
      tmp.replace(csv_path)
    write_npz_atomic(path, ids=kept, metadata=np.array(json.dumps(entry, sort_keys=True)))


def load_subset(ctx: Context, name: str) -> tuple[np.ndarray, dict]:
  """The kept ids and metadata of a saved subset."""
  with np.load(ctx.subsets_dir / f'{name}.npz', allow_pickle=False) as saved:
    return saved['ids'], json.loads(str(saved['metadata']))
