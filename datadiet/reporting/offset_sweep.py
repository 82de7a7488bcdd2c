"""The offset sweep's figure and ``summary.md`` section."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datadiet.reporting import figures

NAME = 'offset_sweep'
RANDOM = 'random'


def plot(rows: list[dict], best: dict, path: Path) -> None:
  """Test and validation accuracy against the offset per noise level, ★ the chosen offset."""
  fig, ax = figures.subplots(figsize=(6, 4))
  for level, choice in best.items():
    mine = [r for r in rows if f'{r["label_noise"]:g}' == level and r['window'] == 'offset']
    offsets = sorted({r['offset_fraction'] for r in mine})
    def accuracies(key, rows=mine):
      return [[r[key] for r in rows if r['offset_fraction'] == o] for o in offsets]
    test, validation = accuracies('test_accuracy'), accuracies('validation_accuracy')
    line, = ax.plot(offsets, [np.mean(a) for a in test], marker='o',
                    label=f'test, label noise {level}')
    color = line.get_color()
    ax.fill_between(offsets, [min(a) for a in test], [max(a) for a in test], color=color,
                    alpha=0.2)
    ax.plot(offsets, [np.mean(a) for a in validation], linestyle='--', color=color,
            label=f'validation, label noise {level}')
    ax.plot([choice['chosen_offset_fraction']], [choice['chosen_test_accuracy']], marker='*',
            markersize=14, color=color, linestyle='none')
    if choice['random_window_test_accuracy'] is not None:
      ax.axhline(choice['random_window_test_accuracy'], color=color, linestyle=':',
                 label=f'random window, label noise {level}')
  ax.set_xlabel('offset: fraction of the hardest examples dropped before the window')
  ax.set_ylabel('accuracy')
  ax.set_title('kept window slides from the hardest (left) to the easiest (right); '
               '★ = chosen on validation', fontsize=8)
  ax.legend(fontsize=6)
  figures.save_figure(fig, path)


def markdown(rows: list[dict], best: dict, sweep, score_step: int,
             retrain_seeds: list[int]) -> list[str]:
  """The section of ``summary.md``: accuracy per window and the offsets chosen; ``sweep`` is the
  run's ``config.analyses.offset_sweep``, ranked by its score at ``score_step``."""
  lines = ['## Offset sweep', '',
           f'Windows keeping {sweep.fraction_kept:g} of the training pool (after holding out '
           f'{sweep.validation_fraction:g} for validation), ranked by '
           f'{sweep.score}@{score_step}, starting after the `offset` hardest; '
           f'mean over retraining seeds {list(retrain_seeds)}.', '',
           '| label noise | offset (fraction) | hardest dropped | validation acc. | '
           'test acc. |', '|---:|---:|---:|---:|---:|']
  keys = sorted({(r['label_noise'], r['window'], r['offset_fraction'] or 0.0, r['offset'])
                 for r in rows}, key=lambda k: (k[0], k[1] == RANDOM, k[2]))
  for level, window, fraction, offset in keys:
    mine = [r for r in rows if (r['label_noise'], r['window'], r['offset']) ==
            (level, window, offset)]
    label = 'random window' if window == RANDOM else f'{fraction:g}'
    lines.append(f'| {level:g} | {label} | {"—" if offset is None else offset} | '
                 f'{np.mean([r["validation_accuracy"] for r in mine]):.4f} | '
                 f'{np.mean([r["test_accuracy"] for r in mine]):.4f} |')
  lines += ['', '| label noise | offset chosen on validation | its test acc. | '
            'best offset by test (peeking) | its test acc. | hardest window test acc. |',
            '|---:|---:|---:|---:|---:|---:|']
  for level, b in best.items():
    lines.append(f'| {level} | {b["chosen_offset_fraction"]:g} ({b["chosen_offset"]} dropped) | '
                 f'{b["chosen_test_accuracy"]:.4f} | {b["test_best_offset_fraction"]:g} | '
                 f'{b["test_best_accuracy"]:.4f} | {b["hardest_window_test_accuracy"]:.4f} |')
  return lines + ['', f'![offset sweep]({NAME}.png)']
