"""The CCS cutoff sweep's figure and ``summary.md`` section."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datadiet.reporting import figures

NAME = 'ccs_cutoff_sweep'


def _means(rows: list[dict], fraction: float, key: str) -> tuple[list[float], list[float]]:
  mine = [r for r in rows if r['fraction_pruned'] == fraction]
  betas = sorted({r['hard_cutoff'] for r in mine})
  return betas, [float(np.mean([r[key] for r in mine if r['hard_cutoff'] == b])) for b in betas]


def plot(rows: list[dict], best: dict, path: Path) -> None:
  """Test and validation accuracy against β per pruning rate, ★ the β chosen on validation."""
  fig, ax = figures.subplots(figsize=(6, 4))
  for choice in best.values():
    fraction = choice['fraction_pruned']
    betas, test = _means(rows, fraction, 'test_accuracy')
    line, = ax.plot(betas, test, marker='o', label=f'test, {fraction:g} pruned')
    ax.plot(*_means(rows, fraction, 'validation_accuracy'), linestyle='--',
            color=line.get_color(), label=f'validation, {fraction:g} pruned')
    ax.plot([choice['chosen_hard_cutoff']], [choice['chosen_test_accuracy']], marker='*',
            markersize=14, color=line.get_color(), linestyle='none')
  ax.set_xlabel('β: fraction of the hardest examples cut before stratified sampling')
  ax.set_ylabel('accuracy')
  ax.set_title('CCS hard cutoff per pruning rate; ★ = chosen on validation', fontsize=8)
  ax.legend(fontsize=6)
  figures.save_figure(fig, path)


def markdown(rows: list[dict], best: dict, validation_fraction: float, stratified: str,
             cutoff: str | None, retrain_seeds, flag: str) -> list[str]:
  """The section of ``summary.md``: accuracy per rate and β, the βs chosen, and the override
  that prunes with them; ``stratified`` and ``cutoff`` are ``'<score>@<step>'`` (``cutoff``
  None: the stratified score)."""
  lines = ['## CCS cutoff sweep', '',
           f'CCS subsets of the training pool (after holding out {validation_fraction:g} for '
           f'validation), stratified by {stratified}, the β hardest by {cutoff or stratified} '
           f'cut first; mean over retraining seeds {list(retrain_seeds)}.', '',
           '| fraction pruned | β | hardest cut | kept | validation acc. | test acc. |',
           '|---:|---:|---:|---:|---:|---:|']
  for fraction, beta, cut, size in sorted({(r['fraction_pruned'], r['hard_cutoff'], r['cut'],
                                            r['size']) for r in rows}):
    mine = [r for r in rows if (r['fraction_pruned'], r['hard_cutoff']) == (fraction, beta)]
    lines.append(f'| {fraction:g} | {beta:g} | {cut} | {size} | '
                 f'{np.mean([r["validation_accuracy"] for r in mine]):.4f} | '
                 f'{np.mean([r["test_accuracy"] for r in mine]):.4f} |')
  lines += ['', '| fraction pruned | β chosen on validation | its test acc. | '
            'best β by test (peeking) | its test acc. |', '|---:|---:|---:|---:|---:|']
  for b in best.values():
    lines.append(f'| {b["fraction_pruned"]:g} | {b["chosen_hard_cutoff"]:g} | '
                 f'{b["chosen_test_accuracy"]:.4f} | {b["test_best_hard_cutoff"]:g} | '
                 f'{b["test_best_accuracy"]:.4f} |')
  return lines + ['', f'Prune with the chosen βs (in a new run: the option binds its subsets): '
                  f'`{flag}`. They were tuned for CCS stratified by {stratified} on the pool; '
                  'the prune stage applies the same fractions to the whole training set, and '
                  'to every score in prune.by.', '', f'![CCS cutoff sweep]({NAME}.png)']
