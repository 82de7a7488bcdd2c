"""The paper's Figure 1, drawn from a run's retraining results, and its tables.

Bottom row: test accuracy against the fraction of the training set pruned, one panel per
pruning method that reads scores, a line per score (and scoring step) that was pruned at two
fractions or more, random pruning and the full set as references. Top panel, when a score was
taken at several steps and pruned at one fraction (Figure 1's top row: scores from several
early epochs, half the data pruned): test accuracy against the scoring step. Each point is the
mean over the retraining seeds with a band from their 16th to their 84th percentile (linear
interpolation between seeds), as the paper draws them; the title names the data, the model, the
training budget and the seeds.

Example::

  drawn = figure1_plot(rows, workdir / 'figure1.png', 'CIFAR-10, airbench: ...')
  lines = figure1_tables(rows)          # markdown, one table per panel
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datadiet.reporting import figures

FULL = 'full'
RANDOM = 'random'
PERCENTILES = (16, 84)


def percentile_band(values: Sequence[float]) -> tuple[float, float, float]:
  """``(mean, 16th percentile, 84th percentile)`` of the seeds' values."""
  low, high = np.percentile(np.asarray(values, np.float64), PERCENTILES)
  return float(np.mean(values)), float(low), float(high)


def _label(row: dict, with_model: bool) -> str:
  """``'el2n@48'``, or ``'mlp:el2n@48'`` in a run scored by several models."""
  model = f'{row["score_model"]}:' if with_model and row.get('score_model') else ''
  return f'{model}{row["score"]}@{row["step"]}'


def panels(rows: list[dict]) -> dict:
  """The figure's data from result rows (one per subset × retraining seed):

  * ``'full'``: the full set's band, or None;
  * ``'fractions'``: ``{method: {label: [(fraction, mean, low, high)]}}`` for every score pruned
    at two fractions or more (bottom panels), with ``'random'`` apart;
  * ``'random'``: ``[(fraction, mean, low, high)]`` of random pruning;
  * ``'steps'``: ``{(method, score): [(step, mean, low, high)]}`` for the scores taken at the
    most steps (two or more) and pruned at the fraction ``'steps_fraction'`` (the top panel).
  """
  def accuracies(select) -> list[float]:
    return [r['test_accuracy'] for r in rows if select(r)]

  full = accuracies(lambda r: r['method'] == FULL)
  out = {'full': percentile_band(full) if full else None, 'fractions': {}, 'random': [],
         'steps': {}, 'steps_fraction': None}
  out['random'] = [(f, *percentile_band(accuracies(
      lambda r, f=f: r['method'] == RANDOM and r['fraction_pruned'] == f)))
                   for f in sorted({r['fraction_pruned'] for r in rows
                                    if r['method'] == RANDOM})]
  scored = [r for r in rows if r['score'] is not None]
  with_model = len({r.get('score_model') for r in scored}) > 1
  for method in dict.fromkeys(r['method'] for r in scored):  # In the order the run made them.
    curves = {}
    for label in sorted({_label(r, with_model) for r in scored if r['method'] == method}):
      mine = [r for r in scored if r['method'] == method and _label(r, with_model) == label]
      fractions = sorted({r['fraction_pruned'] for r in mine})
      if len(fractions) > 1:
        curves[label] = [(f, *percentile_band([r['test_accuracy'] for r in mine
                                               if r['fraction_pruned'] == f]))
                         for f in fractions]
    if curves:
      out['fractions'][method] = curves
  by_fraction = {}
  for r in scored:
    by_fraction.setdefault(r['fraction_pruned'], {}).setdefault(
        (r['method'], r['score'], r.get('score_model')), set()).add(r['step'])
  most = max((len(s) for groups in by_fraction.values() for s in groups.values()), default=0)
  candidates = {f: {k: s for k, s in groups.items() if len(s) == most > 1}
                for f, groups in by_fraction.items()}
  candidates = {f: groups for f, groups in candidates.items() if groups}
  if candidates:  # The fraction with the most such scores, the nearest to half on a tie.
    fraction = max(candidates, key=lambda f: (len(candidates[f]), -abs(f - 0.5)))
    out['steps_fraction'] = fraction
    for (method, score, model), steps in sorted(candidates[fraction].items(), key=str):
      key = (method, f'{model}:{score}' if with_model and model else score)
      out['steps'][key] = [(s, *percentile_band([
          r['test_accuracy'] for r in scored if (r['method'], r['score'], r.get('score_model'),
                                                 r['step'], r['fraction_pruned'])
          == (method, score, model, s, fraction)])) for s in sorted(steps)]
  return out


def _band(ax, points, label, **style):
  """A line through the means and its percentile band; returns the line."""
  xs, means, lows, highs = (np.array(v) for v in zip(*points))
  line, = ax.plot(xs, means, marker='o', markersize=3, label=label, **style)
  ax.fill_between(xs, lows, highs, color=line.get_color(), alpha=0.15, linewidth=0)
  return line


def _references(ax, data, random=None):
  """The full set's band (dashed, across the panel) and random pruning's (grey)."""
  if data['full'] is not None:
    mean, low, high = data['full']
    ax.axhline(mean, color='black', linestyle='--', linewidth=1, label='full data')
    ax.axhspan(low, high, color='black', alpha=0.06, linewidth=0)
  if random:
    _band(ax, random, 'random', color='grey', linestyle=':')


def figure1_plot(rows: list[dict], path: Path, title: str) -> dict:
  """Draws Figure 1 (see the module docstring) to ``path`` when the results hold a curve;
  returns what it drew (:func:`panels`), empty when there was none to draw."""
  data = panels(rows)
  methods = list(data['fractions'])
  if not methods and not data['steps']:
    return {}
  columns = max(1, min(2, len(methods)))  # Two panels a row: readable at the page's width.
  bottom_rows = -(-len(methods) // columns)
  has_top = bool(data['steps'])
  fig = figures.figure(figsize=(5.4 * columns + 2.0, 3.4 * (has_top + bottom_rows)))
  grid = fig.add_gridspec(has_top + bottom_rows, columns)
  bottom = []
  for i, method in enumerate(methods):
    ax = fig.add_subplot(grid[has_top + i // columns, i % columns],
                         sharey=bottom[0] if bottom else None)  # One scale to compare on.
    bottom.append(ax)
    for label, points in data['fractions'][method].items():
      _band(ax, points, label)
    _references(ax, data, random=data['random'])
    ax.set_title(f'{method}', fontsize=9)
    ax.set_xlabel('fraction of the training set pruned')
    ax.set_ylabel('test accuracy')
    ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1), borderaxespad=0)
  if has_top:
    top = fig.add_subplot(grid[0, :])
    fraction = data['steps_fraction']
    for (method, score), points in data['steps'].items():
      _band(top, points, f'{method}, {score}')
    random_here = [p for p in data['random'] if p[0] == fraction]
    if random_here:
      _, mean, low, high = random_here[0]
      top.axhline(mean, color='grey', linestyle=':', label='random')
      top.axhspan(low, high, color='grey', alpha=0.15, linewidth=0)
    _references(top, data)
    top.set_title(f'{fraction:g} of the training set pruned, by scores from each step',
                  fontsize=9)
    top.set_xlabel('scoring step')
    top.set_ylabel('test accuracy')
    top.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1), borderaxespad=0)
  fig.suptitle(title + f'\nmean over retraining seeds, band: {PERCENTILES[0]}th–'
               f'{PERCENTILES[1]}th percentile', fontsize=9)
  fig.tight_layout()
  figures.save_figure(fig, path)
  return data


def figure1_tables(rows: list[dict]) -> list[str]:
  """Markdown tables of the figure's panels: mean test accuracy and the percentile band per
  score and fraction pruned (bottom), per score and scoring step (top)."""
  data = panels(rows)
  cell = lambda band: f'{100 * band[0]:.1f} [{100 * band[1]:.1f}, {100 * band[2]:.1f}]'  # noqa: E731
  lines = []
  for method, curves in data['fractions'].items():
    fractions = sorted({f for points in curves.values() for f, *_ in points}
                       | {f for f, *_ in data['random']})
    lines += ['', f'Test accuracy (%, mean [{PERCENTILES[0]}th, {PERCENTILES[1]}th percentile] '
              f'over retraining seeds), {method} against random, by fraction pruned'
              + (f'; full data {cell(data["full"])}' if data['full'] else '') + ':', '',
              '| score | ' + ' | '.join(f'{f:g}' for f in fractions) + ' |',
              '|---|' + '---:|' * len(fractions)]
    for label, points in list(curves.items()) + [('random', data['random'])]:
      at = {f: band for f, *band in points}
      lines.append(f'| {label} | ' + ' | '.join(cell(at[f]) if f in at else ''
                                                for f in fractions) + ' |')
  if data['steps']:
    steps = sorted({s for points in data['steps'].values() for s, *_ in points})
    lines += ['', f'Test accuracy (%) with {data["steps_fraction"]:g} pruned, by the step the '
              'scores were taken at:', '',
              '| method, score | ' + ' | '.join(str(s) for s in steps) + ' |',
              '|---|' + '---:|' * len(steps)]
    for (method, score), points in data['steps'].items():
      at = {s: band for s, *band in points}
      lines.append(f'| {method}, {score} | ' + ' | '.join(cell(at[s]) if s in at else ''
                                                          for s in steps) + ' |')
  return lines
