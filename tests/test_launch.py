"""launch.py and jobs: locked configs, workdirs bound to one config, unknown jobs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from configs import train
from datadiet import jobs

ROOT = Path(__file__).resolve().parents[1]


def test_typo_in_an_override_is_an_error(tmp_path):
  result = subprocess.run(
      [sys.executable, 'launch.py', '--config', 'configs/default.py', '--workdir',
       str(tmp_path), '--config.num_seeds=3'], cwd=ROOT, capture_output=True, text=True)
  assert result.returncode != 0
  assert 'num_seeds' in result.stderr
  assert not list(tmp_path.iterdir())  # Nothing was written.


def test_workdir_of_another_config_is_refused_untouched(tmp_path):
  config = train.get_config()
  config.optim.budget = 1
  config.runtime.tensorboard = False
  jobs.run(config, tmp_path)
  before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob('*') if p.is_file()}
  other = train.get_config()
  other.optim.budget = 2
  other.runtime.tensorboard = False
  with pytest.raises(ValueError, match=r"different config \(differs in \['optim.budget'\]: "
                                       r'optim.budget: 1 there, 2 here\)\. Use a new --workdir, '
                                       r'or pass --continue_with_changed_config'):
    jobs.run(other, tmp_path)
  assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob('*') if p.is_file()} == before
  assert 'Trained seeds [0, 1, 2, 3]' in jobs.run(config, tmp_path)  # Same config: resumes.


def test_unknown_job():
  config = train.get_config()
  config.job = 'prune_only'
  with pytest.raises(ValueError, match='valid jobs: train, pipeline'):
    jobs.run(config, '/nonexistent/never/created')


def test_continue_with_a_changed_config_keeps_the_old_one(tmp_path):
  config = train.get_config()
  config.optim.budget = 1
  config.runtime.tensorboard = False
  jobs.run(config, tmp_path)
  first = (tmp_path / 'config.json').read_text()
  relaunch = train.get_config()
  # Runtime fields, and blocks the train job does not read (pruning, analyses), bind nothing.
  relaunch.update_from_flattened_dict({
      'optim.budget': 1, 'runtime.tensorboard': False, 'runtime.log_every_steps': 3,
      'runtime.checkpoint_every_steps': 5, 'runtime.eval_batch_size': 64,
      'prune.fractions': (0.2,), 'analyses.offset_sweep.offsets': (0.1,)})
  jobs.run(relaunch, tmp_path)
  assert not (tmp_path / 'config.1.json').exists()  # Not a different config.
  changed = train.get_config()
  changed.update_from_flattened_dict({'optim.budget': 2, 'runtime.tensorboard': False})
  assert 'Trained seeds [0, 1, 2, 3] for 24 steps' in jobs.run(  # 2 epochs, resumed at 12.
      changed, tmp_path, continue_with_changed_config=True)
  assert (tmp_path / 'config.1.json').read_text() == first
  assert json.loads((tmp_path / 'config.json').read_text())['optim']['budget'] == 2


def test_a_workdir_whose_config_is_not_one_datadiet_reads_is_refused(tmp_path):
  (tmp_path / 'config.json').write_text(json.dumps({'job': 'train', 'dataset': 'digits',
                                                    'budget': 1}))
  with pytest.raises(ValueError, match=r'config.json is not a config this version of datadiet '
                                       r'reads \(it has no data block\).* Use a new --workdir\.'):
    jobs.run(train.get_config(), tmp_path)


def test_a_workdir_in_use_by_another_run_is_refused(tmp_path):
  holder = subprocess.Popen(
      [sys.executable, '-c', 'import sys, time; from configs import train; '
       'from datadiet import workdir; c = train.get_config(); c.optim.budget = 1; '
       'c.runtime.tensorboard = False; workdir.claim(sys.argv[1], c, lambda c: ()); '
       'print("held", flush=True); time.sleep(60)', str(tmp_path)],
      cwd=ROOT, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == 'held'
    config = train.get_config()
    config.optim.budget = 1
    with pytest.raises(ValueError, match=rf'{tmp_path} is in use by another run \(process '
                                         rf'{holder.pid} on .*\); wait for it to finish'):
      jobs.run(config, tmp_path)
  finally:
    holder.kill()
    holder.wait()
  config = train.get_config()  # Once the other run is gone (killed: its lock went with it) ...
  config.optim.budget = 1
  config.runtime.tensorboard = False
  assert 'Trained seeds' in jobs.run(config, tmp_path)  # ... the workdir is this run's.


def test_a_workdir_of_a_config_without_todays_fields_is_refused_as_older(tmp_path):
  config = train.get_config()
  config.optim.budget = 1
  config.runtime.tensorboard = False
  jobs.run(config, tmp_path)
  found = json.loads((tmp_path / 'config.json').read_text())
  del found['optim']['label_smoothing'], found['optim']['lookahead']  # As datadiet before them.
  (tmp_path / 'config.json').write_text(json.dumps(found))
  with pytest.raises(ValueError, match=r"holds a run of an older datadiet, whose config has no "
                                       r"\['optim.label_smoothing'\] \(fields added since\)"):
    jobs.run(config, tmp_path)
  # A model argument the old run did not set is a change of config, not a newer field.
  changed = train.get_config()
  changed.update_from_flattened_dict({'optim.budget': 1, 'runtime.tensorboard': False})
  changed.model.kwargs = {'widths': (8, 16)}
  found['optim'] = json.loads(changed.to_json())['optim']
  (tmp_path / 'config.json').write_text(json.dumps(found))
  with pytest.raises(ValueError, match=r"different config \(differs in \['model.kwargs', "
                                       r"'model.kwargs.widths'\]"):
    jobs.run(changed, tmp_path)


def _launch(*args):
  return subprocess.run([sys.executable, 'launch.py', *args], cwd=ROOT, capture_output=True,
                        text=True)


def test_print_config_shows_every_field_and_does_no_work(tmp_path):
  result = _launch('--config', 'configs/default.py', '--print_config',
                   '--config.prune.kwargs.ccs.num_strata=7')
  assert result.returncode == 0, result.stderr
  printed = result.stdout
  # Each method's options, with their defaults and the override.
  for line in ('prune.kwargs.ccs.num_strata = 7', "prune.kwargs.offset.offset_from = 'hardest'",
               'prune.kwargs.random.per_seed = True', 'optim.budget = 300',
               "prune.fractions = (0.3, 0.5, 0.7)", 'retrain.budget_steps = None'):
    assert line in printed, line
  assert 'Stage' not in result.stderr and not list(tmp_path.iterdir())


def test_help_exits_zero_and_names_the_flags():
  result = _launch('--help')
  assert result.returncode == 0
  for flag in ('--config', '--workdir', '--print_config', '--config.<field>=<value>'):
    assert flag in result.stdout


def test_a_config_path_that_names_no_file_lists_the_configs(tmp_path):
  result = _launch('--config', 'configs/defualt.py', '--workdir', str(tmp_path / 'run'))
  assert result.returncode == 1
  (line,) = result.stderr.strip().splitlines()
  assert line.startswith('datadiet: config: no config file configs/defualt.py; did you mean '
                         'configs/default.py? Configs in configs/: base.py, ')
  assert 'cifar10_figure1.py' in line and not (tmp_path / 'run').exists()


def test_a_missing_workdir_is_one_line():
  result = _launch('--config', 'configs/default.py')
  assert result.returncode == 1
  assert result.stderr.strip() == (
      "datadiet: --workdir is required: the directory for the run's outputs (e.g. "
      '--workdir=/tmp/datadiet_run); --print_config shows the config without one.')


def test_ctrl_c_ends_in_one_line_that_says_a_relaunch_resumes(tmp_path):
  import signal
  import time
  workdir = tmp_path / 'run'
  # As from a terminal: SIGINT handled (a pytest-xdist worker's children inherit it ignored).
  proc = subprocess.Popen([sys.executable, 'launch.py', '--config', 'configs/train.py',
                           '--workdir', str(workdir), '--config.optim.budget=100000'],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
  try:
    deadline = time.monotonic() + 120
    while not (workdir / 'metrics.jsonl').exists():  # Training has started.
      assert proc.poll() is None and time.monotonic() < deadline
      time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
  finally:
    if proc.poll() is None:  # Never leave a 100,000-step run behind.
      proc.kill()
      proc.wait()
  assert proc.returncode == 130
  assert stderr.strip().splitlines()[-1] == (
      'datadiet: interrupted. Every result finished before it is kept; relaunch the same '
      'command to resume.')
  assert 'Traceback' not in stderr and 'KeyboardInterrupt' not in stderr


def test_a_full_disk_inside_a_writer_is_named():
  import errno
  from datadiet import errors
  try:
    try:
      raise OSError(errno.ENOSPC, 'No space left on device')
    except OSError as inner:
      raise RuntimeError('orbax: save failed') from inner
  except RuntimeError as wrapped:
    assert errors.disk_full(wrapped) == 'No space left on device'
  assert errors.disk_full(RuntimeError('something else')) is None
  assert errors.disk_full(OSError(errno.EACCES, 'Permission denied')) is None
