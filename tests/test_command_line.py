"""Reading a config from the command line: each mistake one line (launch.py's end-to-end cases
are in tests/test_bad_input.py)."""

from configs import default
from datadiet import command_line


def test_before_parsing_names_a_missing_file_and_an_unknown_field():
  assert command_line.before_parsing(['launch.py', '--config=configs/default.py']) is None
  assert command_line.before_parsing(
      ['launch.py', '--config', 'configs/deafult.py']).startswith(
          'no config file configs/deafult.py; did you mean configs/default.py?')
  assert command_line.before_parsing(
      ['launch.py', '--config=configs/default.py', '--config.zzz.qqq=0.1']) == (
          '--config.zzz.qqq is not a field (every field is in configs/base.py).')
  # A method's options are the method's to check (preflight), not a misspelling here.
  assert command_line.before_parsing(
      ['launch.py', '--config=configs/default.py', '--config.prune.kwargs.ccs.num_strata=5']) is None


def test_after_parsing_refuses_a_repeat_and_a_bare_seed_count():
  config = default.get_config()
  argv = ['launch.py', '--config=configs/default.py']
  assert command_line.after_parsing(argv, config) is None
  assert 'is given twice' in command_line.after_parsing(
      argv + ['--config.optim.budget=3', '--config.optim.budget', '4'], config)
  assert command_line.after_parsing(argv + ['--config.retrain.seeds=3'], config).startswith(
      '--config.retrain.seeds=3 would be the one seed (3,), not 3 seeds')
  config.optim.budgett = 3  # A config file's own misspelling.
  assert "sets fields no job reads: 'optim.budgett' (did you mean 'optim.budget'?)" in (
      command_line.after_parsing(argv, config))


def test_load_error_keeps_the_last_line_of_a_wrapped_error():
  wrapped = ValueError(KeyError('Traceback (most recent call last):\n  ...\nKeyError: "nope"'))
  assert command_line.load_error(wrapped, ['launch.py']) == 'KeyError: "nope"'


def test_no_config_and_a_setting_a_config_does_not_take():
  assert command_line.before_parsing(['launch.py', '--workdir=/tmp/x']).startswith(
      '--config is required: a config file, e.g. --config configs/default.py (configs: ')
  from absl import flags
  error = flags.IllegalFlagValueError(
      'Traceback ...\nTypeError: get_config() takes 0 positional arguments but 1 was given')
  assert command_line.load_error(error, ['launch.py', '--config=configs/default.py:nosuch']) == (
      "configs/default.py has no settings (it was given 'nosuch'): use --config "
      'configs/default.py.')
