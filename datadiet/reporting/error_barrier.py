"""The error-barrier analysis's figure and ``summary.md`` section."""

from __future__ import annotations

from pathlib import Path

from datadiet.reporting import figures

NAME = 'error_barrier'
SUBSETS = ('highest', 'lowest', 'random')


def plot(records: list[dict], path: Path) -> None:
  """Error and loss barriers against the spawn step per subset, and the loss along α."""
  fig, (left, middle, right) = figures.subplots(1, 3, figsize=(15, 3.8))
  steps = [r['spawn_step'] for r in records]
  for ax, key, label in ((left, 'barrier', 'error barrier'),
                         (middle, 'loss_barrier', 'loss barrier')):
    for name in SUBSETS:
      line, = ax.plot(steps, [r['subsets'][name][key] for r in records], marker='o',
                      label=f'{name} scores')
      if records[0]['subsets'][name][f'{key}_at_half'] is not None:
        ax.plot(steps, [r['subsets'][name][f'{key}_at_half'] for r in records],
                linestyle='--', color=line.get_color())
    ax.set_xscale('symlog', linthresh=max(1, min([s for s in steps if s > 0] or [1])))
    ax.set_xlabel('spawn step t*')
    ax.set_ylabel(label)
    ax.set_title('solid: max over α, dashed: α = ½', fontsize=8)
    ax.legend(fontsize=7)
  for record in records:
    right.plot(record['alphas'], record['subsets']['highest']['losses'], marker='.',
               label=f't* = {record["spawn_step"]}')
  right.set_xlabel('α (0: one child, 1: the other)')
  right.set_ylabel('loss on the highest-score examples')
  right.legend(fontsize=7)
  figures.save_figure(fig, path)


def markdown(rows: list[dict], analysis, score_step: int, total_steps: int) -> list[str]:
  """The section of ``summary.md``: barriers per spawn step and subset; ``analysis`` is the
  run's ``config.analyses.error_barrier``, its subsets ranked by the score at ``score_step``,
  the children trained to ``total_steps``."""
  step = score_step
  def fmt(v):  # Without a sign on a zero that rounding made negative.
    return 'n/a' if v is None else f'{0.0 if abs(v) < 5e-5 else v:.4f}'
  lines = ['## Error barriers between children spawned at step t*', '',
           f'Children of parent seed {analysis.parent_seed} spawned at each t* trained to step '
           f'{total_steps} with seeds '
           f'{list(analysis.child_seeds)}; training error and loss on the {analysis.num_examples} '
           f'highest / lowest {analysis.score}@{step} and random examples along '
           f'α ∈ {list(analysis.alphas)}, ' + (
               f'BatchNorm statistics recomputed for every α from {analysis.bn_batches} '
               'training batches.' if analysis.recompute_batch_stats else
               'BatchNorm running statistics interpolated like the weights (not recomputed).'),
           '',
           'Error barrier as the paper defines it (section 5): max over α of R(α) − (α R(1) + '
           "(1 − α) R(0)); Frankle et al. (2020) subtract the mean of the endpoint errors "
           "instead, max over α of R(α) − (R(0) + R(1)) / 2 (the same when the children's "
           'errors are equal).', '',
           '| t* | subset | error barrier (max over α) | at α = ½ | above the endpoint mean '
           '(Frankle et al.) | error of child 0 | error of child 1 | loss barrier | at α = ½ |',
           '|---:|---|---:|---:|---:|---:|---:|---:|---:|']
  lines += [f'| {r["spawn_step"]} | {r["subset"]} | {fmt(r["barrier"])} | '
            f'{fmt(r["barrier_at_half"])} | {fmt(r["barrier_above_endpoint_mean"])} | '
            f'{fmt(r["error_child_0"])} | '
            f'{fmt(r["error_child_1"])} | {fmt(r["loss_barrier"])} | '
            f'{fmt(r["loss_barrier_at_half"])} |' for r in rows]
  return lines + ['', f'![error barrier]({NAME}.png)']
