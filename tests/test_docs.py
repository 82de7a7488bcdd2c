"""Every code block of README.md and docs/ runs, so an example cannot drift from the API.

* ``python`` blocks are executed, with small data: paths under ``/tmp/`` go to a temporary
  directory, where the digits' score file that ``/tmp/datadiet_default`` would hold is written
  first, and ``train_images`` / ``train_labels`` (which the airbench example leaves to the
  reader) are 16 random images.
* ``bash`` blocks: every ``launch.py`` command's config file, setting and overrides are loaded
  as ``launch.py`` loads them (a wrong field, type or file fails here); every ``bench/*.py``
  command names a script that defines each flag it passes. The runs themselves are the configs'
  own end-to-end tests (``tests/test_configs.py``, ``tests/test_bench_gpu.py``); ``pip`` and
  ``venv`` lines are what CI runs.
* A block preceded by ``<!-- not run: <why> -->`` is a sketch (e.g. code placed in two files)
  and must say why.
"""

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from absl import flags
from ml_collections import config_flags

from datadiet import score_files
from datadiet.data import sources

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]
BLOCK = re.compile(r'(<!-- not run: (?P<why>[^>]*?) -->\s*)?```(?P<lang>\w*)\n(?P<body>.*?)```',
                   re.S)


def _blocks(lang: str) -> list:
  found = []
  for document in DOCUMENTS:
    text = document.read_text()
    for match in BLOCK.finditer(text):
      if match['lang'] == lang:
        line = text[:match.start('body')].count('\n') + 1
        found.append(pytest.param(match['body'], match['why'],
                                  id=f'{document.relative_to(ROOT)}:{line}'))
  return found


@pytest.fixture(scope='module')
def small_data(tmp_path_factory):
  """A temporary /tmp: the digits' EL2N score file of the README's default run."""
  root = tmp_path_factory.mktemp('tmp')
  ids = sources.load('digits').train['id']
  per_seed = np.random.default_rng(0).random((4, len(ids)))
  score_files.save_scores(root / 'datadiet_default' / 'scores' / 'el2n@60.npz', ids, per_seed,
                          score='el2n', dataset='digits', model='mlp', step=60,
                          seeds=[0, 1, 2, 3])
  return root


@pytest.mark.parametrize('body, why', _blocks('python'))
def test_python_blocks_run(body, why, small_data):
  if why is not None:
    assert why.strip(), 'a block that is not run says why'
    pytest.skip(f'not run: {why}')
  code = body.replace("'/tmp/", f"'{small_data}/")
  rng = np.random.default_rng(0)
  namespace = {'__name__': '__docs__', 'train_images': rng.integers(0, 256, (16, 32, 32, 3),
                                                                     dtype=np.uint8),
               'train_labels': rng.integers(0, 10, 16)}
  exec(compile(code, '<docs>', 'exec'), namespace)  # pylint: disable=exec-used


def _commands(body: str) -> list[list[str]]:
  """The block's commands (continuation lines joined, comments dropped), as argument lists."""
  joined = re.sub(r'\\\n\s*', ' ', body)
  commands = []
  for line in joined.splitlines():
    line = line.split(' #', 1)[0].strip()
    if line and not line.startswith('#'):
      for part in line.split('&&'):
        commands.append(shlex.split(part))
  return commands


def _load_config(arguments: list[str]):
  """The config as launch.py builds it: the file (and setting), then each override."""
  kept = ['launch.py']
  for i, arg in enumerate(arguments):
    if arg == '--config':
      kept += ['--config', arguments[i + 1]]
    elif arg.startswith('--config'):
      kept.append(arg)
    elif (arguments[i - 1] == '--config' or not arg.startswith('--')
          or arg.startswith(('--workdir', '--continue_with_changed_config', '--print_config'))):
      continue
    else:
      raise AssertionError(f'launch.py has no flag {arg}')
  values = flags.FlagValues()  # Overrides are read from sys_argv, as launch.py's from sys.argv.
  config_flags.DEFINE_config_file('config', None, flag_values=values, lock_config=True,
                                  sys_argv=kept)
  values(kept)
  return values.config


@pytest.mark.parametrize('body, why', _blocks('bash'))
def test_bash_blocks_name_real_configs_fields_and_flags(body, why, monkeypatch):
  monkeypatch.chdir(ROOT)
  for command in _commands(body):
    programs = [i for i, word in enumerate(command) if word.endswith('.py')]
    if not programs:
      continue  # python3 -m venv / pip install: the CI command itself.
    program, arguments = command[programs[0]], command[programs[0] + 1:]
    assert (ROOT / program).is_file(), f'{program} does not exist'
    if program == 'launch.py':
      config = _load_config(arguments)
      assert config.job in ('pipeline', 'train')
    else:
      source = (ROOT / program).read_text()
      for arg in arguments:
        name = arg.lstrip('-').split('=', 1)[0]
        assert re.search(rf"DEFINE_\w+\(\s*'{name}'", source), f'{program} has no flag --{name}'
