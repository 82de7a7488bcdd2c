"""The pipeline report's figures: accuracy against the fraction pruned, score histograms,
rank-correlation heatmaps and the seed-stability bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import ticker

from datadiet.reporting import figures

FULL = 'full'  # The retraining run on the whole training set.


def mean_or_none(values):
  """The mean of the values that are not None, or None if there are none."""
  values = [v for v in values if v is not None]
  return float(np.mean(values)) if values else None


MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X', '<', '>', '*')
LINESTYLES = ('-', '--', '-.', ':')
MIN_SPAN = 0.05  # The accuracy axis spans at least 5 points: sub-point gaps look their size.


def _curve_label(method: str, score: str | None, score_model: str | None,
                 with_model: bool) -> str:
  if score is None:
    return method
  return f'{method}, {score_model}:{score}' if with_model else f'{method}, {score}'


def _at_least(ax, span: float) -> None:
  """Widens the y-axis around its centre to at least ``span``."""
  low, high = ax.get_ylim()
  if high - low < span:
    middle = (low + high) / 2
    ax.set_ylim(middle - span / 2, middle + span / 2)


def accuracy_plot(rows: list[dict], path: Path, title: str = '') -> None:
  """Test accuracy of every subset against the fraction pruned: the mean over retraining seeds
  and their min–max band, a marker and dash per curve so that coinciding curves stay visible,
  the legend outside the data. With a single fraction, one dot per subset instead, labelled."""
  seeds = max((sum(1 for r in rows if r['subset'] == s) for s in {r['subset'] for r in rows}),
              default=0)
  full = [r['test_accuracy'] for r in rows if r['method'] == FULL]

  def curve(row):
    return row['method'], row['score'], row.get('score_model')

  curves = sorted({curve(r) for r in rows if r['method'] != FULL}, key=str)
  with_model = len({model for _, score, model in curves if score is not None}) > 1
  fractions_all = sorted({r['fraction_pruned'] for r in rows if r['method'] != FULL})
  spread = f'min–max over {seeds} seeds' if seeds > 1 else 'one seed'
  if len(fractions_all) <= 1:  # One fraction: a dot (and its range) per subset.
    labels, means, lows, highs = [], [], [], []
    for key in curves:
      values = [r['test_accuracy'] for r in rows if curve(r) == key]
      labels.append(_curve_label(*key, with_model))
      means.append(np.mean(values))
      lows.append(min(values))
      highs.append(max(values))
    if full:
      labels.append('full data')
      means.append(np.mean(full))
      lows.append(min(full))
      highs.append(max(full))
    fig, ax = figures.subplots(figsize=(6.4, 0.9 + 0.32 * len(labels)), layout='constrained')
    y = np.arange(len(labels))
    ax.errorbar(means, y, xerr=[np.subtract(means, lows), np.subtract(highs, means)],
                fmt='o', color='tab:blue', ecolor='tab:gray', capsize=3)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel('test accuracy')
    ax.grid(axis='x', alpha=0.3)
    low, high = ax.get_xlim()
    if high - low < MIN_SPAN:
      ax.set_xlim((low + high - MIN_SPAN) / 2, (low + high + MIN_SPAN) / 2)
    pruned = f'{fractions_all[0]:g} of the training set pruned; ' if fractions_all else ''
    ax.set_title(f'{title}\n{pruned}mean over retraining seeds, bars: {spread}'.strip(),
                 fontsize=8)
    figures.save_figure(fig, path)
    return
  fig, ax = figures.subplots(figsize=(8.4, 4.4), layout='constrained')
  if full:
    ax.axhline(np.mean(full), color='black', linestyle='--', linewidth=1, zorder=1,
               label='full data')
  for i, key in enumerate(curves):
    mine = [r for r in rows if curve(r) == key]
    fractions = sorted({r['fraction_pruned'] for r in mine})
    accs = [[r['test_accuracy'] for r in mine if r['fraction_pruned'] == f] for f in fractions]
    line, = ax.plot(fractions, [np.mean(a) for a in accs], marker=MARKERS[i % len(MARKERS)],
                    linestyle=LINESTYLES[i // len(MARKERS) % len(LINESTYLES)], markersize=5,
                    markerfacecolor='none' if i % 2 else None, zorder=3,
                    label=_curve_label(*key, with_model))
    ax.fill_between(fractions, [min(a) for a in accs], [max(a) for a in accs],
                    color=line.get_color(), alpha=0.12, linewidth=0, zorder=2)
  _at_least(ax, MIN_SPAN)
  ax.set_xlabel('fraction of the training set pruned')
  ax.set_ylabel('test accuracy')
  ax.grid(alpha=0.3)
  ax.set_title(f'{title}\nmean over retraining seeds, band: {spread}'.strip(), fontsize=8)
  ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1), borderaxespad=0)
  figures.save_figure(fig, path)


def score_histograms(scores, is_noisy, path):
  """One histogram per score (count on a log axis: trained scores are heavy-tailed), clean and
  noisy labels apart when there is noise."""
  cols = min(4, len(scores))
  rows = -(-len(scores) // cols)
  fig, axes = figures.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False,
                               layout='constrained')
  for ax in axes.flat[len(scores):]:
    ax.set_visible(False)
  for i, (ax, (name, values)) in enumerate(zip(axes.flat, scores.items())):
    values = np.asarray(values, np.float64)
    finite = values[np.isfinite(values)]
    if np.ptp(finite) == 0 if finite.size else True:
      ax.text(0.5, 0.5, f'constant\n{finite[0]:.3g}' if finite.size else 'no finite value',
              ha='center', va='center', transform=ax.transAxes, fontsize=8)
      ax.set_xticks([])
      ax.set_yticks([])
    elif is_noisy.any():
      ax.hist([finite[~is_noisy[np.isfinite(values)]], finite[is_noisy[np.isfinite(values)]]],
              bins=40, label=['clean', 'noisy'], histtype='stepfilled', alpha=0.6, log=True)
      ax.legend(fontsize=6)
    else:
      ax.hist(finite, bins=40, log=True)
    ax.set_title(name, fontsize=8)
    ax.tick_params(labelsize=7)
    if ax.get_yscale() == 'log':  # From one example up, labelled by decades (no 6×10¹).
      ax.set_ylim(bottom=0.7)
      ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    if i % cols == 0:
      ax.set_ylabel('examples (log)', fontsize=7)
    ax.set_xlabel('score', fontsize=7)
  fig.suptitle('Scores of the training examples (mean over scoring seeds)', fontsize=9)
  figures.save_figure(fig, path)


def spearman_heatmaps(matrices: dict[str, dict[str, dict[str, float]]], path) -> None:
  """One Spearman-ρ heatmap per named matrix, each cell's value written in it."""
  size = max(len(m) for m in matrices.values())
  side = max(3.8, 0.42 * size + 1.5)
  fig, axes = figures.subplots(1, len(matrices), figsize=(side * len(matrices) + 1.0, side),
                               squeeze=False, layout='constrained')
  for ax, (title, matrix) in zip(axes.flat, matrices.items()):
    names = list(matrix)
    values = np.array([[np.nan if matrix[a][b] is None else matrix[a][b] for b in names]
                       for a in names])
    image = ax.imshow(values, vmin=-1, vmax=1, cmap='RdBu_r')
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    for (i, j), v in np.ndenumerate(values):
      ax.text(j, i, 'n/a' if np.isnan(v) else f'{v:.2f}', ha='center', va='center', fontsize=7,
              color='white' if abs(v) > 0.5 else 'black')
    ax.set_title(title, fontsize=9)
  fig.colorbar(image, ax=list(axes.flat), shrink=0.8, label='Spearman ρ')
  figures.save_figure(fig, path)


def diagnostics_plot(per_score: dict, path, constant: tuple[str, ...] = ()) -> None:
  """Seed stability and single-seed agreement per score file, as bars; a score that is the same
  for every example (random and input norm do not depend on the seed) is marked as such."""
  names = list(per_score)
  fig, ax = figures.subplots(figsize=(max(6.0, 0.7 * len(names) + 2.5), 3.8),
                             layout='constrained')
  series = {'half vs half of the seeds (stability)': 'stability',
            'one seed vs the other seeds (mean)': 'single_vs_others'}
  width = 0.8 / len(series)
  for i, (label, key) in enumerate(series.items()):
    values = [per_score[n][key] if key == 'stability' else mean_or_none(per_score[n][key])
              for n in names]
    ax.bar(np.arange(len(names)) + i * width, [np.nan if v is None else v for v in values],
           width, label=label)
  for i, name in enumerate(names):
    if name.split('@')[0] in constant or name in constant:
      ax.text(i + width / 2, 0.5, 'seed-free', ha='center', va='center', fontsize=7,
              rotation=90, color='white')
  ax.set_xticks(np.arange(len(names)) + width / 2, names, rotation=60, fontsize=7)
  ax.set_xlabel('score file (score@step)')
  ax.set_ylabel('Spearman ρ')
  ax.set_ylim(-0.2, 1.25)
  ax.set_title('How well the scoring seeds agree on each score\n(a seed-free score agrees '
               'perfectly by construction)', fontsize=8)
  ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1), borderaxespad=0)
  figures.save_figure(fig, path)
