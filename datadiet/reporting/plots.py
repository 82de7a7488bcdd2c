"""The pipeline report's figures: accuracy against the fraction pruned, score histograms,
rank-correlation heatmaps and the seed-stability bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datadiet.reporting import figures

FULL = 'full'  # The retraining run on the whole training set.


def mean_or_none(values):
  """The mean of the values that are not None, or None if there are none."""
  values = [v for v in values if v is not None]
  return float(np.mean(values)) if values else None


def accuracy_plot(rows: list[dict], path: Path) -> None:
  """Test accuracy against the fraction pruned: mean and min–max over seeds per curve."""
  fig, ax = figures.subplots(figsize=(6, 4))
  full = [r['test_accuracy'] for r in rows if r['method'] == FULL]
  if full:
    ax.axhline(np.mean(full), color='black', linestyle='--', label='full data')
  def curve(row):
    return row['method'], row['score'], row.get('score_model')
  curves = sorted({curve(r) for r in rows if r['method'] != FULL}, key=str)
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
  figures.save_figure(fig, path)

def score_histograms(scores, is_noisy, path):
  """One histogram per score, clean and noisy labels apart when there is noise."""
  cols = min(4, len(scores))
  rows = -(-len(scores) // cols)
  fig, axes = figures.subplots(rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False)
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
  figures.save_figure(fig, path)

def spearman_heatmaps(matrices: dict[str, dict[str, dict[str, float]]], path) -> None:
  """One Spearman-ρ heatmap per named matrix."""
  fig, axes = figures.subplots(1, len(matrices), figsize=(4.2 * len(matrices), 3.8),
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
  figures.save_figure(fig, path)

def diagnostics_plot(per_score: dict, path) -> None:
  """Seed stability and single-seed agreement per score file, as bars."""
  names = list(per_score)
  fig, ax = figures.subplots(figsize=(max(4, 0.8 * len(names)), 3.2))
  series = {'half vs half of the seeds (stability)': 'stability',
            'one seed vs the other seeds (mean)': 'single_vs_others'}
  width = 0.8 / len(series)
  for i, (label, key) in enumerate(series.items()):
    values = [per_score[n][key] if key == 'stability' else mean_or_none(per_score[n][key])
              for n in names]
    ax.bar(np.arange(len(names)) + i * width, [np.nan if v is None else v for v in values],
           width, label=label)
  ax.set_xticks(np.arange(len(names)) + width / 2, names, rotation=60, fontsize=7)
  ax.set_ylabel('Spearman ρ')
  ax.set_ylim(-0.2, 1.0)
  ax.legend(fontsize=7)
  figures.save_figure(fig, path)
