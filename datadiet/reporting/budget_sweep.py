"""The budget sweep's phase diagram and ``summary.md`` section.

One panel per pruning method other than random: budget (full-set epochs, rows) × fraction
pruned (columns) → the method's mean test accuracy minus random pruning's, in points, on a
diverging scale centred at 0 (blue: the method beats random); a last panel names the method
chosen on the validation split in each cell.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datadiet.reporting import figures

NAME = 'budget_sweep'
RANDOM = 'random'


def grid(rows: list[dict], method: str, key: str = 'test_accuracy'
         ) -> tuple[list[float], list[float], np.ndarray]:
  """``(budgets, fractions, means)``: ``means[i, j]`` is ``method``'s mean ``key`` over
  retraining seeds at budget ``i`` and fraction ``j`` (NaN where it did not run)."""
  budgets = sorted({r['budget_epochs'] for r in rows})
  fractions = sorted({r['fraction_pruned'] for r in rows})
  means = np.full((len(budgets), len(fractions)), np.nan)
  for i, budget in enumerate(budgets):
    for j, fraction in enumerate(fractions):
      values = [r[key] for r in rows if (r['method'], r['budget_epochs'], r['fraction_pruned'])
                == (method, budget, fraction)]
      if values:
        means[i, j] = np.mean(values)
  return budgets, fractions, means


def advantage(rows: list[dict], method: str) -> tuple[list[float], list[float], np.ndarray]:
  """``grid`` of ``method``'s test accuracy minus random's (points: ×100)."""
  budgets, fractions, mine = grid(rows, method)
  return budgets, fractions, 100 * (mine - grid(rows, RANDOM)[2])


def _axes(ax, budgets, fractions, first: bool):
  ax.set_xticks(range(len(fractions)), [f'{f:g}' for f in fractions])
  ax.set_yticks(range(len(budgets)), [f'{b:g}' for b in budgets])
  ax.set_xlabel('fraction pruned')
  if first:
    ax.set_ylabel('training budget (full-set epochs)')


def plot(rows: list[dict], chosen: list[dict], path: Path, title: str) -> None:
  """Draws the phase diagram (see the module docstring) to ``path``."""
  methods = [m for m in dict.fromkeys(r['method'] for r in rows) if m != RANDOM]
  advantages = {m: advantage(rows, m) for m in methods}
  largest = max([np.nanmax(np.abs(a[2])) for a in advantages.values()
                 if np.isfinite(a[2]).any()] + [1e-6])
  fig, axes = figures.subplots(1, len(methods) + 1, figsize=(3.2 * (len(methods) + 1) + 1.2, 3.8),
                               squeeze=False, layout='constrained')
  image = None
  for ax, method in zip(axes[0], methods):
    budgets, fractions, values = advantages[method]
    image = ax.imshow(values, cmap='RdBu', vmin=-largest, vmax=largest, origin='lower',
                      aspect='auto')
    for (i, j), value in np.ndenumerate(values):
      if np.isfinite(value):
        ax.text(j, i, f'{value:+.1f}', ha='center', va='center', fontsize=8,
                color='white' if abs(value) > 0.6 * largest else 'black')
    _axes(ax, budgets, fractions, first=ax is axes[0][0])
    ax.set_title(method, fontsize=9)
  if image is not None:
    fig.colorbar(image, ax=list(axes[0][:len(methods)]), shrink=0.9,
                 label="test accuracy − random's (points)")
  ax = axes[0][-1]
  budgets = sorted({c['budget_epochs'] for c in chosen})
  fractions = sorted({c['fraction_pruned'] for c in chosen})
  names = list(dict.fromkeys(r['method'] for r in rows))
  codes = np.full((len(budgets), len(fractions)), np.nan)
  for c in chosen:
    i, j = budgets.index(c['budget_epochs']), fractions.index(c['fraction_pruned'])
    codes[i, j] = names.index(c['chosen'])
    ax.text(j, i, c['chosen'].replace('_', '\n'), ha='center', va='center', fontsize=7)
  ax.imshow(codes, cmap='Pastel1', vmin=0, vmax=8, origin='lower', aspect='auto')
  _axes(ax, budgets, fractions, first=not methods)
  ax.set_title('chosen on the validation split', fontsize=9)
  fig.suptitle(title + "\nmean test accuracy over retraining seeds minus random pruning's; "
               'blue: the method beats random', fontsize=9)
  figures.save_figure(fig, path)


def markdown(rows: list[dict], chosen: list[dict], by: str, validation_fraction: float,
             retrain_seeds) -> list[str]:
  """The section of ``summary.md``: each method's advantage over random per budget and
  fraction, the method chosen on validation per cell, and the override that prunes with it."""
  methods = [m for m in dict.fromkeys(r['method'] for r in rows) if m != RANDOM]
  budgets, fractions, random = grid(rows, RANDOM)
  lines = ['## Budget sweep: when keeping the hardest pays', '',
           f'Subsets of the training pool (after holding out {validation_fraction:g} for '
           f'validation) by {by}; at each budget every run trains the same number of steps, '
           "whatever its subset's size; "
           f'mean over retraining seeds {list(retrain_seeds)}. Test accuracy minus random '
           "pruning's, in points (random's own accuracy, in %, in its rows):", '',
           '| method | budget (epochs) | ' + ' | '.join(f'{f:g}' for f in fractions) + ' |',
           '|---|---:|' + '---:|' * len(fractions)]
  for method in methods:
    _, _, values = advantage(rows, method)
    for i, budget in enumerate(budgets):
      lines.append(f'| {method} | {budget:g} | ' + ' | '.join(
          f'{v:+.1f}' if np.isfinite(v) else '' for v in values[i]) + ' |')
  for i, budget in enumerate(budgets):
    lines.append(f'| random (test acc. %) | {budget:g} | ' + ' | '.join(
        f'{100 * v:.1f}' if np.isfinite(v) else '' for v in random[i]) + ' |')
  lines += ['', '| budget (epochs) | fraction pruned | chosen on validation | its test acc. (%) | '
            "random's (%) | best by test (peeking) | override |",
            '|---:|---:|---|---:|---:|---|---|']
  for c in chosen:
    random_test = ('' if c['random_test_accuracy'] is None
                   else f'{100 * c["random_test_accuracy"]:.1f}')
    lines.append(f'| {c["budget_epochs"]:g} | {c["fraction_pruned"]:g} | {c["chosen"]} | '
                 f'{100 * c["chosen_test_accuracy"]:.1f} | {random_test} | {c["test_best"]} | '
                 f'`{c["override"]}` |')
  return lines + ['', f'![budget sweep]({NAME}.png)']
