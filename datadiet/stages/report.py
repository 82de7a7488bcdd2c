"""Stage 5: results tables, plots and ``summary.md``.

Writes ``results.csv`` / ``results.json`` (one row per subset × seed), ``accuracy.png`` (test
accuracy against fraction pruned, one line per method and score, mean with min–max band over
seeds, the full-data accuracy as a reference), ``scores.png`` (histograms), ``spearman.json``
(rank correlations between the scores), and with label noise ``noise_detection.json`` (AUROC and
precision@k of every score for finding the noisy labels) — all tied together in ``summary.md``.
"""

from __future__ import annotations

import csv
import io

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.stats  # noqa: E402
from sklearn import metrics as sk_metrics  # noqa: E402

from datadiet import score_files  # noqa: E402
from datadiet.stages import retrain as retrain_stage  # noqa: E402
from datadiet.stages.context import Context, write_json_atomic  # noqa: E402


def _mean_scores(ctx: Context) -> dict[str, np.ndarray]:
  """``{'<score>@<step>': mean score aligned to the training ids}`` for every score file."""
  out = {}
  for path in sorted(ctx.scores_dir.glob('*.npz')):
    out[path.stem] = score_files.load_scores(path, ids=ctx.data.train['id']).score
  return out


def noise_detection(scores: dict[str, np.ndarray], is_noisy: np.ndarray) -> dict[str, dict]:
  """AUROC and precision@k (k = number of noisy labels) of each score for finding noise."""
  k = int(is_noisy.sum())
  return {name: dict(auroc=float(sk_metrics.roc_auc_score(is_noisy, values)),
                     precision_at_k=float(is_noisy[np.argsort(-values, kind='stable')[:k]].mean()))
          for name, values in scores.items()}


def _write_csv(path, rows):
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
  writer.writeheader()
  writer.writerows(rows)
  tmp = path.with_name(f'.{path.name}.tmp')
  tmp.write_text(buffer.getvalue())
  tmp.replace(path)


def _save_figure(fig, path):
  tmp = path.with_name(f'.{path.stem}.tmp.png')
  fig.savefig(tmp, dpi=120, bbox_inches='tight')
  plt.close(fig)
  tmp.replace(path)


def _accuracy_plot(rows, path):
  fig, ax = plt.subplots(figsize=(6, 4))
  full = [r['test_accuracy'] for r in rows if r['method'] == retrain_stage.FULL]
  if full:
    ax.axhline(np.mean(full), color='black', linestyle='--', label='full data')
  curves = sorted({(r['method'], r['score']) for r in rows if r['method'] != retrain_stage.FULL},
                  key=str)
  for method, score in curves:
    mine = [r for r in rows if (r['method'], r['score']) == (method, score)]
    fractions = sorted({r['fraction_pruned'] for r in mine})
    accs = [[r['test_accuracy'] for r in mine if r['fraction_pruned'] == f] for f in fractions]
    label = method if score is None else f'{method} ({score})'
    line, = ax.plot(fractions, [np.mean(a) for a in accs], marker='o', label=label)
    ax.fill_between(fractions, [min(a) for a in accs], [max(a) for a in accs],
                    color=line.get_color(), alpha=0.2)
  ax.set_xlabel('fraction of training set pruned')
  ax.set_ylabel('test accuracy')
  ax.legend(fontsize=7)
  _save_figure(fig, path)


def _histograms(scores, is_noisy, path):
  cols = min(4, len(scores))
  rows = -(-len(scores) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False)
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
  _save_figure(fig, path)


def report(ctx: Context) -> None:
  rows = retrain_stage.load_results(ctx)
  workdir = ctx.workdir
  _write_csv(workdir / 'results.csv', rows)
  write_json_atomic(workdir / 'results.json', rows)
  _accuracy_plot(rows, workdir / 'accuracy.png')
  scores = _mean_scores(ctx)
  _, is_noisy = ctx.noise
  _histograms(scores, is_noisy, workdir / 'scores.png')
  names = list(scores)
  spearman = {a: {b: float(scipy.stats.spearmanr(scores[a], scores[b]).statistic)
                  for b in names} for a in names}
  write_json_atomic(workdir / 'spearman.json', spearman)
  detection = noise_detection(scores, is_noisy) if is_noisy.any() else {}
  if detection:
    write_json_atomic(workdir / 'noise_detection.json', detection)
  write_summary(ctx, rows, spearman, detection)


def write_summary(ctx: Context, rows, spearman, detection) -> None:
  """``summary.md``: the accuracy table, the plots, score correlations, noise detection."""
  subsets = sorted({r['subset'] for r in rows}, key=lambda s: (s != retrain_stage.FULL, s))
  retrain_model = ctx.config.retrain_model or ctx.config.model
  lines = [f'# Data-diet run: {ctx.config.dataset}', '',
           f'Scores from {ctx.config.model} seeds {list(ctx.config.seeds)} at steps '
           f'{list(ctx.config.score_steps)}; retrained {retrain_model} with seeds '
           f'{list(ctx.config.retrain_seeds)}.', '',
           '| subset | fraction pruned | kept | steps | test accuracy (mean ± std) |',
           '|---|---:|---:|---:|---|']
  for name in subsets:
    mine = [r for r in rows if r['subset'] == name]
    accs = np.array([r['test_accuracy'] for r in mine])
    lines.append(f'| {name} | {mine[0]["fraction_pruned"]:g} | {mine[0]["size"]} | '
                 f'{mine[0]["steps"]} | {accs.mean():.4f} ± {accs.std():.4f} |')
  lines += ['', '![accuracy](accuracy.png)', '', '![scores](scores.png)', '',
            '## Spearman rank correlation between scores', '']
  names = list(spearman)
  lines.append('| | ' + ' | '.join(names) + ' |')
  lines.append('|---' * (len(names) + 1) + '|')
  lines += [f'| {a} | ' + ' | '.join(f'{spearman[a][b]:+.2f}' for b in names) + ' |'
            for a in names]
  if detection:
    lines += ['', '## Finding the noisy labels', '', '| score | AUROC | precision@k |',
              '|---|---:|---:|']
    lines += [f'| {n} | {d["auroc"]:.3f} | {d["precision_at_k"]:.3f} |'
              for n, d in detection.items()]
  tmp = ctx.workdir / '.summary.md.tmp'
  tmp.write_text('\n'.join(lines) + '\n')
  tmp.replace(ctx.workdir / 'summary.md')
