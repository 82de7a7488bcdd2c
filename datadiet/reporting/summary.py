"""The pipeline report's ``summary.md``: tables of accuracy, score correlations, seed stability
and noise detection, the figures, and the analyses' sections."""

from __future__ import annotations

import numpy as np

from datadiet.reporting import plots


def summary_markdown(run: dict, rows, spearman, by_architecture, seed_checks, detection,
                     sections: list[str]) -> str:
  """``summary.md``: the accuracy table, the plots, score correlations, noise detection, and
  ``sections`` (the training-dynamics analyses' markdown). ``run`` describes the run: its
  ``dataset``, ``score_models``, ``seeds``, ``score_steps``, ``retrain_model``,
  ``retrain_seeds``, ``per_seed_methods`` (methods drawn once per retraining seed) and
  ``constant_scores`` (score files with one value for every example)."""
  subsets = sorted({r['subset'] for r in rows}, key=lambda s: (s != plots.FULL, s))
  lines = [f'# Data-diet run: {run["dataset"]}', '',
           f'Scores from {" and ".join(run["score_models"])} seeds {list(run["seeds"])} at '
           f'steps {list(run["score_steps"])}.']
  if run.get('constant_scores'):
    lines[-1] += (f' Constant over the training set, so they rank nothing (a subset by them '
                  f'follows id order): {", ".join(run["constant_scores"])}.')
  if rows:
    lines[-1] += (f' Retrained {run["retrain_model"]} with seeds {list(run["retrain_seeds"])}.')
    if run.get('per_seed_methods'):
      lines[-1] += (f' Subsets by {", ".join(run["per_seed_methods"])} are drawn afresh for '
                    'every retraining seed, so their spread includes the draw\'s.')
    lines += ['', '| subset | fraction pruned | kept | steps | test accuracy (mean ± std) |',
              '|---|---:|---:|---:|---|']
    for name in subsets:
      mine = [r for r in rows if r['subset'] == name]
      accs = np.array([r['test_accuracy'] for r in mine])
      lines.append(f'| {name} | {mine[0]["fraction_pruned"]:g} | {mine[0]["size"]} | '
                   f'{mine[0]["steps"]} | {accs.mean():.4f} ± {accs.std():.4f} |')
    lines += ['', '![accuracy](accuracy.png)']
  for section in sections:
    lines += [''] + section.rstrip('\n').split('\n')
  lines += ['', '![scores](scores.png)', '',
            '## Spearman rank correlation between scores', '']
  lines += markdown_matrix(spearman) + ['', '![spearman](spearman.png)']
  for name, matrix in by_architecture.items():
    lines += ['', f'## {name}: Spearman rank correlation between architectures', '']
    lines += markdown_matrix(matrix)
  lines += diagnostics_markdown(seed_checks)
  if detection:
    lines += ['', '## Finding the noisy labels', '', '| score | AUROC | precision@k |',
              '|---|---:|---:|']
    lines += [f'| {n} | {d["auroc"]:.3f} | {d["precision_at_k"]:.3f} |'
              for n, d in detection.items()]
  return '\n'.join(lines) + '\n'


def diagnostics_markdown(seed_checks: dict) -> list[str]:
  """The seed-stability section: per score file, and between scoring steps."""
  def fmt(v):
    return 'n/a' if v is None else f'{v:+.2f}'
  lines = ['', '## How stable are the scores?', '',
           'Spearman ρ between the mean score of half of the seeds and the other half '
           '(stability), and of one seed against the mean of the others (averaged over seeds) '
           'or of all seeds.', '', '| score | seeds | stability | one seed vs others | '
           'one seed vs all |', '|---|---:|---:|---:|---:|']
  for name, d in seed_checks['per_score'].items():
    lines.append(f'| {name} | {d["num_seeds"]} | {fmt(d["stability"])} | '
                 f'{fmt(plots.mean_or_none(d["single_vs_others"]))} | '
                 f'{fmt(plots.mean_or_none(d["single_vs_mean"]))} |')
  if seed_checks['between_steps']:
    lines += ['', '| score | scoring steps | Spearman ρ of the mean scores |', '|---|---|---:|']
    lines += [f'| {name} | {pair} | {fmt(rho)} |'
              for name, pairs in seed_checks['between_steps'].items()
              for pair, rho in pairs.items()]
  lines += ['', '![score diagnostics](score_diagnostics.png)']
  return lines


def markdown_matrix(matrix: dict[str, dict[str, float]]) -> list[str]:
  """A named matrix as a markdown table (``n/a`` where undefined)."""
  names = list(matrix)
  return (['| | ' + ' | '.join(names) + ' |', '|---' * (len(names) + 1) + '|']
          + [f'| {a} | ' + ' | '.join('n/a' if matrix[a][b] is None else f'{matrix[a][b]:+.2f}'
                                      for b in names) + ' |'
             for a in names])
