"""Behaviour held fixed across a refactor: the result digests of the four digits pipelines.

  python bench/digests.py --record=bench/results/digests_cpu_2core.json   # before the change
  python bench/digests.py --compare=bench/results/digests_cpu_2core.json  # after it

Runs ``configs/default.py``, ``digits_label_noise.py``, ``digits_transfer.py`` and
``digits_dynamics.py`` through ``launch.py`` into fresh workdirs (about 6 minutes on 2 CPU
cores) and takes each run's :func:`datadiet.run_digest.digest` (every result file's content
hash). ``--compare`` prints the files whose content changed, appeared or disappeared, and exits 1
if any did. Digests are exact: compare runs on the same machine and package versions.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from absl import app, flags

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datadiet import run_digest  # noqa: E402

CONFIGS = ('default', 'digits_label_noise', 'digits_transfer', 'digits_dynamics')

_RECORD = flags.DEFINE_string('record', None, 'Write the digests to this JSON file.')
_COMPARE = flags.DEFINE_string('compare', None, 'Compare with digests recorded in this file.')
_CONFIGS = flags.DEFINE_list('configs', list(CONFIGS), 'Which configs to run.')
_WORKDIRS = flags.DEFINE_string('workdirs', None, 'Run into <workdirs>/<config> and keep them '
                                '(their summary.md holds the README\'s digits tables); default: '
                                'a temporary directory.')


def digests(scratch: Path) -> dict[str, dict[str, str]]:
  """``{config: {result file: content hash}}``, each config run once into ``scratch``."""
  out = {}
  for name in _CONFIGS.value:
    start = time.perf_counter()
    workdir = scratch / name
    subprocess.run([sys.executable, 'launch.py', f'--config=configs/{name}.py',
                    f'--workdir={workdir}'], cwd=ROOT, check=True, capture_output=True)
    out[name] = run_digest.digest(workdir)
    print(f'{name}: {len(out[name])} result files in {time.perf_counter() - start:.0f} s',
          flush=True)
  return out


def differences(recorded: dict, now: dict) -> list[str]:
  lines = []
  for name in sorted(set(recorded) & set(now)):
    before, after = recorded[name], now[name]
    for path in sorted(set(before) | set(after)):
      if path not in after:
        lines.append(f'{name}: {path} disappeared')
      elif path not in before:
        lines.append(f'{name}: {path} is new')
      elif before[path] != after[path]:
        lines.append(f'{name}: {path} changed')
  return lines


def main(argv):
  del argv
  if bool(_RECORD.value) == bool(_COMPARE.value):
    raise app.UsageError('Pass exactly one of --record and --compare.')
  if _WORKDIRS.value:
    now = digests(Path(_WORKDIRS.value))
  else:
    with tempfile.TemporaryDirectory() as scratch:
      now = digests(Path(scratch))
  if _RECORD.value:
    path = Path(_RECORD.value)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(now, indent=1, sort_keys=True) + '\n')
    print(f'Recorded {sum(map(len, now.values()))} digests in {path}.')
    return
  lines = differences(json.loads(Path(_COMPARE.value).read_text()), now)
  print('\n'.join(lines) or f'All {sum(map(len, now.values()))} result files are unchanged.')
  if lines:
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
