"""The NTK-velocity analysis's figure and ``summary.md`` section."""

from __future__ import annotations

from pathlib import Path

from datadiet.reporting import figures

NAME = 'ntk_velocity'


def plot(rows: list[dict], path: Path) -> None:
  """Kernel velocity against the blocks' score rank, one panel per label-noise level."""
  levels = sorted({r['label_noise'] for r in rows})
  fig, axes = figures.subplots(1, len(levels), figsize=(5 * len(levels), 3.8), squeeze=False,
                                 sharey=True)
  for ax, level in zip(axes.flat, levels):
    mine = [r for r in rows if r['label_noise'] == level]
    for pair in sorted({(r['from_step'], r['to_step']) for r in mine}):
      curve = sorted((r['rank_fraction'], r['velocity']) for r in mine
                     if (r['from_step'], r['to_step']) == pair)
      ax.plot(*zip(*curve), marker='.', label=f'steps {pair[0]}→{pair[1]}')
    ax.set_yscale('log')  # The first interval moves the kernel far more than the later ones.
    ax.set_title(f'label noise {level:g}', fontsize=9)
    ax.set_xlabel('score rank of the block (0: lowest, 1: highest)')
    ax.legend(fontsize=6)
  axes.flat[0].set_ylabel('kernel velocity (cosine distance)')
  figures.save_figure(fig, path)


def markdown(rows: list[dict], analysis, score_step: int) -> list[str]:
  """The section of ``summary.md``: velocity per block and checkpoint interval; ``analysis`` is
  the run's ``config.analyses.ntk_velocity``, ranked by its score at ``score_step``."""
  step = score_step
  lines = ['## NTK velocity by score rank', '',
           f'{analysis.num_blocks} blocks of {analysis.block_size} consecutive examples in the '
           f'{analysis.score}@{step} ranking; cosine distance of each block\'s logit-trace NTK '
           f'Gram matrix between consecutive checkpoints of seed {analysis.seed}. Columns: '
           'the blocks, from the lowest scores to the highest.', '']
  levels = sorted({r['label_noise'] for r in rows})
  num_blocks = analysis.num_blocks
  lines += ['| label noise | steps | ' + ' | '.join(str(b) for b in range(num_blocks)) + ' |',
            '|---:|---|' + '---:|' * num_blocks]
  for level in levels:
    for pair in sorted({(r['from_step'], r['to_step']) for r in rows if r['label_noise'] == level}):
      values = [r['velocity'] for r in sorted(rows, key=lambda r: r['block'])
                if r['label_noise'] == level and (r['from_step'], r['to_step']) == pair]
      lines.append(f'| {level:g} | {pair[0]}→{pair[1]} | '
                   + ' | '.join(f'{v:.3f}' for v in values) + ' |')
  return lines + ['', f'![NTK velocity]({NAME}.png)']
