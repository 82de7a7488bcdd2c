"""Does label smoothing in the scoring seeds change what EL2N keeps? The same run twice.

  python bench/label_smoothing.py                       # the digits, 2 CPU cores, ~2 minutes
  python bench/label_smoothing.py --config=configs/cifar10_figure1.py --smoothing=0.2 \
      --override=--config.data.name=image_folder:<CIFAR-10 folder>         # a GPU job

Runs ``--config`` through ``launch.py`` twice, the retraining seeds with label smoothing
``--smoothing`` both times, the scoring seeds with it (``smoothed``) and without
(``pretrain.label_smoothing=0``, ``plain``), pruning half the training set by keep-hardest EL2N
and at random. Smoothing pulls a fitted model's softmax towards the smoothed target, so EL2N of
the examples it fits stops near ‖target − onehot‖ instead of 0 (0.19 for 10 classes at 0.2);
the bench reports both runs' EL2N quantiles, that floor, the rank correlation between the two
scorings, how many of the kept half they share, and the retrained test accuracies. Writes
``--out`` (``label_smoothing_<name>.json`` / ``.md``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.stats
from absl import app, flags

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datadiet import score_files  # noqa: E402

_CONFIG = flags.DEFINE_string('config', 'configs/default.py', 'The pipeline config to run twice.')
_SMOOTHING = flags.DEFINE_float('smoothing', 0.2, 'The retraining (and smoothed scoring) seeds\' '
                                'label smoothing.')
_OVERRIDES = flags.DEFINE_multi_string('override', [], 'More launch.py flags for both runs.')
_WORKDIR = flags.DEFINE_string('workdir', '/tmp/datadiet_label_smoothing',
                               'The two runs go to <workdir>/smoothed and <workdir>/plain.')
_OUT = flags.DEFINE_string('out', str(ROOT / 'bench' / 'results'), 'Where results are written.')
_NUM_CLASSES = flags.DEFINE_integer('num_classes', 10, 'The dataset\'s classes (for the floor).')
_NAME = flags.DEFINE_string('name', 'digits_cpu_2core', 'The result files\' suffix.')


def floor(smoothing: float, num_classes: int) -> float:
  """EL2N of an example whose softmax equals its smoothed target: ‖target − onehot‖₂."""
  off = smoothing / num_classes
  return float(np.sqrt((smoothing - off) ** 2 + (num_classes - 1) * off ** 2))


def _run(workdir: Path, scoring_smoothing: float | None) -> float:
  command = [sys.executable, 'launch.py', f'--config={_CONFIG.value}', f'--workdir={workdir}',
             f'--config.optim.label_smoothing={_SMOOTHING.value}',
             "--config.prune.methods=('keep_hardest', 'random')", '--config.prune.fractions=(0.5,)',
             *_OVERRIDES.value]
  if scoring_smoothing is not None:
    command.append(f'--config.pretrain.label_smoothing={scoring_smoothing}')
  start = time.perf_counter()
  done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
  if done.returncode:
    raise SystemExit(f'bench/label_smoothing.py: {" ".join(command)} failed:\n'
                     + done.stderr[-3000:])
  return time.perf_counter() - start


def main(argv):
  del argv
  runs = {'smoothed': None, 'plain': 0.0}
  seconds = {name: _run(Path(_WORKDIR.value) / name, value) for name, value in runs.items()}
  config = json.loads((Path(_WORKDIR.value) / 'plain' / 'config.json').read_text())
  by = config['prune']['by'][0]
  step = int(by.partition('@')[2] or max(config['scores']['steps']))
  el2n, accuracy, kept = {}, {}, {}
  for name in runs:
    workdir = Path(_WORKDIR.value) / name
    el2n[name] = score_files.load_scores(workdir / 'scores' / f'el2n@{step}.npz').score
    rows = json.loads((workdir / 'results.json').read_text())
    for subset in sorted({r['subset'] for r in rows}):
      if subset == 'full' or subset.startswith(('random', 'keep_hardest-el2n')):
        accuracy.setdefault(name, {})[subset] = float(np.mean(
            [r['test_accuracy'] for r in rows if r['subset'] == subset]))
    half = len(el2n[name]) // 2
    kept[name] = set(np.argsort(-el2n[name], kind='stable')[:half].tolist())
  num_classes = _NUM_CLASSES.value
  result = dict(
      config=_CONFIG.value, overrides=_OVERRIDES.value, smoothing=_SMOOTHING.value,
      score=f'el2n@{step}', seconds=seconds, floor=floor(_SMOOTHING.value, num_classes),
      quantiles={name: dict(zip(('min', 'p10', 'median', 'p90', 'max'), np.quantile(
          values, [0, 0.1, 0.5, 0.9, 1]).round(4).tolist())) for name, values in el2n.items()},
      spearman=float(scipy.stats.spearmanr(el2n['smoothed'], el2n['plain']).statistic),
      kept_half_shared=len(kept['smoothed'] & kept['plain']) / len(kept['plain']),
      test_accuracy=accuracy,
      commit=subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, text=True,
                            capture_output=True).stdout.strip(),
      date=time.strftime('%Y-%m-%d'))
  lines = [f'# Label smoothing in the scoring seeds: {_CONFIG.value} '
           f'{" ".join(_OVERRIDES.value)}', '',
           f'Retraining seeds with label smoothing {_SMOOTHING.value:g} in both runs; scoring '
           f'seeds with it (smoothed) or without (plain); {result["score"]}; commit '
           f'{result["commit"]}, {result["date"]}.', '',
           '| scoring seeds | EL2N min | 10th pct | median | 90th pct | max |',
           '|---|---:|---:|---:|---:|---:|']
  for name, q in result['quantiles'].items():
    lines.append(f'| {name} | ' + ' | '.join(f'{v:.3f}' for v in q.values()) + ' |')
  lines += ['', f'Smoothed target\'s EL2N floor: {result["floor"]:.3f}. Spearman between the '
            f'two scorings: {result["spearman"]:.3f}; the kept (hardest) halves share '
            f'{100 * result["kept_half_shared"]:.1f}% of their examples.', '',
            'Test accuracy, mean over the retraining seeds:', '',
            '| subset | smoothed scoring | plain scoring |', '|---|---:|---:|']
  for subset in accuracy['plain']:
    lines.append(f'| {subset} | {100 * accuracy["smoothed"][subset]:.2f}% | '
                 f'{100 * accuracy["plain"][subset]:.2f}% |')
  out = Path(_OUT.value)
  out.mkdir(parents=True, exist_ok=True)
  (out / f'label_smoothing_{_NAME.value}.json').write_text(json.dumps(result, indent=1) + '\n')
  (out / f'label_smoothing_{_NAME.value}.md').write_text('\n'.join(lines) + '\n')
  print('\n'.join(lines))


if __name__ == '__main__':
  app.run(main)
