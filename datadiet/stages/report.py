"""Stage 5: results tables, plots and ``summary.md``.

Writes ``results.csv`` / ``results.json`` (one row per subset × seed), ``accuracy.png`` (test
accuracy against fraction pruned, one line per method and score, mean with min–max band over
seeds, the full-data accuracy as a reference), ``scores.png`` (histograms), ``spearman.json``
and ``spearman.png`` (rank correlations between the scores), with ``config.scores.compare_models``
``spearman_architectures.json`` (for each score, rank correlations between the architectures
that computed it), and with label noise ``noise_detection.json`` (AUROC and precision@k of every
score for finding the noisy labels), ``score_diagnostics.json`` / ``.png`` (seed stability,
single seed vs ensemble, agreement between scoring steps) — all tied together in ``summary.md``,
with the sections (``<analysis>.md``) of the training-dynamics analyses the run includes.
Without a ``retrain`` stage (an analysis-only run) the accuracy table and plot are left out.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as sk_metrics

from datadiet import atomic_files, score_files
from datadiet.dynamics import diagnostics
from datadiet.scores import registry
from datadiet.score_files import ScoreFile
from datadiet.stages import artifacts
from datadiet.stages import retrain as retrain_stage
from datadiet.stages.context import Context
from datadiet.stages.protocol import Stage


def _load_score_files(ctx: Context, model: str | None = None) -> dict[str, ScoreFile]:
  """``{'<score>@<step>': score file aligned to the training ids}`` for one model's scores."""
  return {path.stem: score_files.load_scores(path, ids=ctx.data.train['id'])
          for path in sorted(ctx.scores_dir_for(model).glob('*.npz'))}


def spearman_matrix(scores: dict[str, np.ndarray]) -> dict[str, dict[str, float | None]]:
  """Spearman rank correlation between every pair of named score vectors (``None`` where one
  is constant, e.g. a loss at initialisation on one seed of a tiny set)."""
  return {a: {b: diagnostics.spearman(scores[a], scores[b]) for b in scores} for a in scores}


def score_diagnostics(loaded: dict[str, ScoreFile]) -> dict:
  """Seed stability, single seed vs ensemble, and agreement between scoring steps, for every
  loaded score file (see :mod:`datadiet.dynamics.diagnostics`)."""
  per_file, means = {}, {}
  for stem, score_file in loaded.items():
    per_file[stem] = diagnostics.seed_diagnostics(score_file.per_seed)
    name, _, step = stem.partition('@')
    means.setdefault(name, {})[int(step)] = score_file.score
  steps = {name: diagnostics.between_steps(by_step) for name, by_step in means.items()
           if len(by_step) > 1}
  return {'per_score': per_file, 'between_steps': steps}


def architecture_spearman(ctx: Context, scores: dict[str, np.ndarray]
                          ) -> dict[str, dict[str, dict[str, float]]]:
  """``{'<score>@<step>': Spearman matrix between the models that computed it}``; ``scores``
  are the scoring model's mean scores (already loaded)."""
  by_model = {model: scores if model == ctx.config.model.name else
              {name: f.score for name, f in _load_score_files(ctx, model).items()}
              for model in ctx.score_models}
  # Model-free scores (random, input norm) are identical across models: nothing to compare.
  shared = [name for name in scores
            if not registry.get(name.partition('@')[0]).model_free
            and all(name in model_scores for model_scores in by_model.values())]
  return {name: spearman_matrix({m: by_model[m][name] for m in by_model}) for name in shared}


def noise_detection(scores: dict[str, np.ndarray], is_noisy: np.ndarray) -> dict[str, dict]:
  """AUROC and precision@k (k = number of noisy labels) of each score for finding noise."""
  k = int(is_noisy.sum())
  return {name: dict(auroc=float(sk_metrics.roc_auc_score(is_noisy, values)),
                     precision_at_k=float(is_noisy[np.argsort(-values, kind='stable')[:k]].mean()))
          for name, values in scores.items()}


def _accuracy_plot(rows, path):
  fig, ax = artifacts.subplots(figsize=(6, 4))
  full = [r['test_accuracy'] for r in rows if r['method'] == retrain_stage.FULL]
  if full:
    ax.axhline(np.mean(full), color='black', linestyle='--', label='full data')
  def curve(row):
    return row['method'], row['score'], row.get('score_model')
  curves = sorted({curve(r) for r in rows if r['method'] != retrain_stage.FULL}, key=str)
  for method, score, score_model in curves:
    mine = [r for r in rows if curve(r) == (method, score, score_model)]
    fractions = sorted({r['fraction_pruned'] for r in mine})
    accs = [[r['test_accuracy'] for r in mine if r['fraction_pruned'] == f] for f in fractions]
    label = method if score is None else f'{method} ({score}, {score_model})'
    line, = ax.plot(fractions, [np.mean(a) for a in accs], marker='o', label=label)
    ax.fill_between(fractions, [min(a) for a in accs], [max(a) for a in accs],
                    color=line.get_color(), alpha=0.2)
  ax.set_xlabel('fraction of training set pruned')
  ax.set_ylabel('test accuracy')
  ax.legend(fontsize=7)
  artifacts.save_figure(fig, path)


def _histograms(scores, is_noisy, path):
  cols = min(4, len(scores))
  rows = -(-len(scores) // cols)
  fig, axes = artifacts.subplots(rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False)
  for ax in axes.flat[len(scores):]:
    ax.set_visible(False)
  for ax, (name, values) in zip(axes.flat, scores.items()):
    if is_noisy.any():
      ax.hist([values[~is_noisy], values[is_noisy]], bins=30, label=['clean', 'noisy'],
              density=True, histtype='stepfilled', alpha=0.6)
      ax.legend(fontsize=6)
    else:
      ax.hist(values, bins=30)
    ax.set_title(name, fontsize=8)
  artifacts.save_figure(fig, path)


def _heatmaps(matrices: dict[str, dict[str, dict[str, float]]], path) -> None:
  fig, axes = artifacts.subplots(1, len(matrices), figsize=(4.2 * len(matrices), 3.8),
                                 squeeze=False)
  for ax, (title, matrix) in zip(axes.flat, matrices.items()):
    names = list(matrix)
    values = np.array([[np.nan if matrix[a][b] is None else matrix[a][b] for b in names]
                       for a in names])
    image = ax.imshow(values, vmin=-1, vmax=1, cmap='RdBu_r')
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=6)
    ax.set_yticks(range(len(names)), names, fontsize=6)
    for (i, j), v in np.ndenumerate(values):
      ax.text(j, i, f'{v:.2f}', ha='center', va='center', fontsize=5,
              color='white' if abs(v) > 0.5 else 'black')
    ax.set_title(title, fontsize=8)
  fig.colorbar(image, ax=list(axes.flat), shrink=0.8, label='Spearman ρ')
  artifacts.save_figure(fig, path)


def _mean_or_none(values):
  values = [v for v in values if v is not None]
  return float(np.mean(values)) if values else None


def _diagnostics_plot(per_score: dict, path) -> None:
  names = list(per_score)
  fig, ax = artifacts.subplots(figsize=(max(4, 0.8 * len(names)), 3.2))
  series = {'half vs half of the seeds (stability)': 'stability',
            'one seed vs the other seeds (mean)': 'single_vs_others'}
  width = 0.8 / len(series)
  for i, (label, key) in enumerate(series.items()):
    values = [per_score[n][key] if key == 'stability' else _mean_or_none(per_score[n][key])
              for n in names]
    ax.bar(np.arange(len(names)) + i * width, [np.nan if v is None else v for v in values],
           width, label=label)
  ax.set_xticks(np.arange(len(names)) + width / 2, names, rotation=60, fontsize=7)
  ax.set_ylabel('Spearman ρ')
  ax.set_ylim(-0.2, 1.0)
  ax.legend(fontsize=7)
  artifacts.save_figure(fig, path)


def _diagnostics_markdown(seed_checks: dict) -> list[str]:
  def fmt(v):
    return 'n/a' if v is None else f'{v:+.2f}'
  lines = ['', '## How stable are the scores?', '',
           'Spearman ρ between the mean score of half of the seeds and the other half '
           '(stability), and of one seed against the mean of the others (averaged over seeds) '
           'or of all seeds.', '', '| score | seeds | stability | one seed vs others | '
           'one seed vs all |', '|---|---:|---:|---:|---:|']
  for name, d in seed_checks['per_score'].items():
    lines.append(f'| {name} | {d["num_seeds"]} | {fmt(d["stability"])} | '
                 f'{fmt(_mean_or_none(d["single_vs_others"]))} | '
                 f'{fmt(_mean_or_none(d["single_vs_mean"]))} |')
  if seed_checks['between_steps']:
    lines += ['', '| score | scoring steps | Spearman ρ of the mean scores |', '|---|---|---:|']
    lines += [f'| {name} | {pair} | {fmt(rho)} |'
              for name, pairs in seed_checks['between_steps'].items()
              for pair, rho in pairs.items()]
  lines += ['', '![score diagnostics](score_diagnostics.png)']
  return lines


def report(ctx: Context) -> None:
  workdir = ctx.workdir
  rows = retrain_stage.load_results(ctx) if 'retrain' in ctx.config.stages else []
  if rows:
    artifacts.write_csv(workdir / 'results.csv', rows)
    atomic_files.write_json(workdir / 'results.json', rows)
    _accuracy_plot(rows, workdir / 'accuracy.png')
  loaded = _load_score_files(ctx)
  scores = {name: score_file.score for name, score_file in loaded.items()}
  _, is_noisy = ctx.noise
  _histograms(scores, is_noisy, workdir / 'scores.png')
  spearman = spearman_matrix(scores)
  atomic_files.write_json(workdir / 'spearman.json', spearman)
  by_architecture = architecture_spearman(ctx, scores) if len(ctx.score_models) > 1 else {}
  if by_architecture:
    atomic_files.write_json(workdir / 'spearman_architectures.json', by_architecture)
  _heatmaps({'between scores': spearman,
             **{f'{name} between models': m for name, m in by_architecture.items()}},
            workdir / 'spearman.png')
  seed_checks = score_diagnostics(loaded)
  atomic_files.write_json(workdir / 'score_diagnostics.json', seed_checks)
  _diagnostics_plot(seed_checks['per_score'], workdir / 'score_diagnostics.png')
  detection = noise_detection(scores, is_noisy) if is_noisy.any() else {}
  if detection:
    atomic_files.write_json(workdir / 'noise_detection.json', detection)
  write_summary(ctx, rows, spearman, by_architecture, seed_checks, detection)


def write_summary(ctx: Context, rows, spearman, by_architecture, seed_checks,
                  detection) -> None:
  """``summary.md``: the accuracy table, the plots, score correlations, noise detection, and
  the sections of the training-dynamics analyses that ran."""
  subsets = sorted({r['subset'] for r in rows}, key=lambda s: (s != retrain_stage.FULL, s))
  retrain_model = retrain_stage.model_name(ctx)
  lines = [f'# Data-diet run: {ctx.config.data.name}', '',
           f'Scores from {" and ".join(ctx.score_models)} seeds '
           f'{list(ctx.config.pretrain.seeds)} at steps {list(ctx.config.scores.steps)}.']
  if rows:
    lines[-1] += (f' Retrained {retrain_model} with seeds {list(ctx.config.retrain.seeds)}.')
    lines += ['', '| subset | fraction pruned | kept | steps | test accuracy (mean ± std) |',
              '|---|---:|---:|---:|---|']
    for name in subsets:
      mine = [r for r in rows if r['subset'] == name]
      accs = np.array([r['test_accuracy'] for r in mine])
      lines.append(f'| {name} | {mine[0]["fraction_pruned"]:g} | {mine[0]["size"]} | '
                   f'{mine[0]["steps"]} | {accs.mean():.4f} ± {accs.std():.4f} |')
    lines += ['', '![accuracy](accuracy.png)']
  for name in ctx.config.stages:  # The analyses write their section as <stage>.md.
    section = ctx.workdir / f'{name}.md'
    if section.exists():
      lines += [''] + section.read_text().rstrip('\n').split('\n')
  lines += ['', '![scores](scores.png)', '',
            '## Spearman rank correlation between scores', '']
  lines += _markdown_matrix(spearman) + ['', '![spearman](spearman.png)']
  for name, matrix in by_architecture.items():
    lines += ['', f'## {name}: Spearman rank correlation between architectures', '']
    lines += _markdown_matrix(matrix)
  lines += _diagnostics_markdown(seed_checks)
  if detection:
    lines += ['', '## Finding the noisy labels', '', '| score | AUROC | precision@k |',
              '|---|---:|---:|']
    lines += [f'| {n} | {d["auroc"]:.3f} | {d["precision_at_k"]:.3f} |'
              for n, d in detection.items()]
  atomic_files.write_text(ctx.workdir / 'summary.md', '\n'.join(lines) + '\n')


def _markdown_matrix(matrix: dict[str, dict[str, float]]) -> list[str]:
  names = list(matrix)
  return (['| | ' + ' | '.join(names) + ' |', '|---' * (len(names) + 1) + '|']
          + [f'| {a} | ' + ' | '.join('n/a' if matrix[a][b] is None else f'{matrix[a][b]:+.2f}'
                                      for b in names) + ' |'
             for a in names])


# The report reads only other stages' outputs: it runs again whenever one of them ran again.
STAGE = Stage('report', report, reads=('stages',),
              outputs=('results.json', 'results.csv', 'spearman.json',
                       'spearman_architectures.json', 'noise_detection.json', 'summary.md'))
