"""Runs a datadiet experiment from an ml_collections config file.

  python launch.py --config configs/default.py --workdir /tmp/dd [--config.optim.budget=600]
  python launch.py --config configs/default.py --print_config   # every field, no work done

Every field, by block, is described in ``configs/base.py``; ``--print_config`` prints a
config's resolved values (each pruning method's options included) and exits.
"""

import difflib
import logging as py_logging
import os
import re
import sys
import threading

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')  # TensorFlow's C++ start-up chatter.
# JAX names each accelerator backend it could not open (libtpu on every non-TPU machine).
py_logging.getLogger('jax._src.xla_bridge').setLevel(py_logging.WARNING)

import ml_collections  # noqa: E402
from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from datadiet import config_checks, errors, jobs, multihost  # noqa: E402
from datadiet.data import image_reader  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Path to a config file.',
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for all outputs of the run.')
_PRINT_CONFIG = flags.DEFINE_bool(
    'print_config', False, 'Print the resolved config (every field, each pruning method\'s '
    'options) and exit without doing any work; --workdir is not needed.')
_CONTINUE = flags.DEFINE_bool(
    'continue_with_changed_config', False,
    'Run in a workdir that holds a run of a different config: every result there is kept, and '
    'each stage computes what this config asks for and is missing (the old config is kept as '
    'config.<n>.json).')
flags.mark_flags_as_required(['config'])
_HELP_FLAGS = ('--help', '-help', '-h', '--helpshort', '--helpfull', '-?')


class _QuietCheckpointing(py_logging.Filter):
  """Orbax logs every checkpoint step at INFO; keep its warnings, drop the rest."""

  def filter(self, record: py_logging.LogRecord) -> bool:
    return record.levelno >= py_logging.WARNING or '/orbax/' not in record.pathname


def _overrides(argv: list[str]) -> list[tuple[str, str, str]]:
  """``(field, value, as typed)`` of each ``--config.<field>=<value>`` (or ``--config.<field>
  <value>``) in ``argv``."""
  found = []
  for i, arg in enumerate(argv):
    name, equals, value = arg.partition('=')
    if not name.startswith('--config.'):
      continue
    if not equals:
      value = argv[i + 1] if i + 1 < len(argv) else ''
    found.append((name.removeprefix('--config.'), value, arg if equals else f'{name} {value}'))
  return found


def _bare_seed_counts(argv: list[str]) -> str | None:
  """``--config.pretrain.seeds=4`` parses as the one seed ``(4,)``, though it reads as "4 seeds":
  refuse a bare integer for any tuple of seeds and show both spellings."""
  for field, value, typed in _overrides(argv):
    if (field.endswith('seeds') and value.strip().isdigit()
        and isinstance(config_checks.field_value(_CONFIG.value, field), tuple)):
      n = int(value)
      many = (f"'{tuple(range(n))}'" if n <= 8 else f"'(0, 1, ..., {n - 1})' (every seed "
              'written out)')
      return (f'{typed} would be the one seed ({n},), not {n} '
              f"seeds: write --config.{field}={many} for {n} seeds, or "
              f"--config.{field}='({n},)' for the seed {n} alone.")
  return None


def _repeated_overrides(argv: list[str]) -> str | None:
  """A field overridden twice: ml_collections joins the two values of a tuple field
  (``seeds='(0,1)'`` then ``seeds='(5,)'`` gives ``(0, 1, 5)``) instead of keeping the last, so
  refuse the repeat (a README command with one more override appended makes it easily)."""
  given = {}
  for field, value, _ in _overrides(argv):
    if field in given:
      joined = isinstance(config_checks.field_value(_CONFIG.value, field), tuple)
      return (f'--config.{field} is given twice ({given[field]!r}, then {value!r}); give it '
              'once' + (' (the values of a repeated tuple field would be joined, not replaced).'
                        if joined else '.'))
    given[field] = value
  return None


# Free-form blocks: the model, each pruning method and the optimizer's parameter groups check
# their own fields (preflight).
_FREE_FORM = ('model.kwargs', 'prune.kwargs', 'optim.param_groups')


def _fields(config: ml_collections.ConfigDict, prefix: str = '') -> set[str]:
  """Every field of ``config``, nested ones dotted (``analyses.offset_sweep.offsets``)."""
  fields = set()
  for key, value in config.items():
    if prefix + key in _FREE_FORM:
      continue
    if isinstance(value, ml_collections.ConfigDict):
      fields |= _fields(value, f'{prefix}{key}.')
    else:
      fields.add(prefix + key)
  return fields


def _unknown_fields(config: ml_collections.ConfigDict) -> str | None:
  """A field that a config file sets but no job reads (``c.optim.budgett = 30``) would be
  silently ignored: every config builds on ``configs/base.py``, so a field outside it is a
  misspelling."""
  from configs import base  # pylint: disable=g-import-not-at-top
  known = _fields(base.get_config())
  unknown = sorted(_fields(config) - known)
  if not unknown:
    return None
  hints = [f'{field!r} (did you mean {close[0]!r}?)' if (close := difflib.get_close_matches(
      field, known, n=1)) else repr(field) for field in unknown]
  return (f'{_config_file(sys.argv)} sets fields no job reads: {", ".join(hints)}; fix the '
          'names (see configs/base.py for every field).')


# The flat field names of datadiet's first configs, before fields were grouped by concern.
_FLAT_NAMES = {
    'dataset': 'data.name', 'data_dir': 'data.dir', 'augment': 'data.augment',
    'data_seed': 'data.order_seed', 'label_noise_fraction': 'data.label_noise_fraction',
    'label_noise_seed': 'data.label_noise_seed', 'model': 'model.name',
    'compute_dtype': 'model.compute_dtype', 'batch_size': 'optim.batch_size',
    'budget': 'optim.budget', 'budget_unit': 'optim.budget_unit',
    'learning_rate': 'optim.learning_rate', 'schedule': 'optim.schedule',
    'lr_decay_fractions': 'optim.lr_decay_fractions', 'lr_decay_factor': 'optim.lr_decay_factor',
    'momentum': 'optim.momentum', 'nesterov': 'optim.nesterov',
    'weight_decay': 'optim.weight_decay', 'seeds': 'pretrain.seeds',
    'checkpoint_steps': 'runtime.checkpoint_steps', 'seed_strategy': 'runtime.seed_strategy',
    'input_pipeline': 'runtime.input_pipeline',
    'device_data_max_fraction': 'runtime.device_data_max_fraction',
    'eval_batch_size': 'runtime.eval_batch_size', 'score_batch_size': 'runtime.score_batch_size',
    'log_every_steps': 'runtime.log_every_steps', 'eval_every_steps': 'runtime.eval_every_steps',
    'checkpoint_every_steps': 'runtime.checkpoint_every_steps',
    'tensorboard': 'runtime.tensorboard', 'compilation_cache_dir': 'runtime.compilation_cache_dir',
    'distributed': 'runtime.distributed', 'scores': 'scores.names', 'score_steps': 'scores.steps',
    'score_dtype': 'scores.dtype', 'random_score_seed': 'scores.random_seed',
    'compare_models': 'scores.compare_models', 'prune_by': 'prune.by', 'prune_step': 'prune.step',
    'prune_methods': 'prune.methods', 'fractions_pruned': 'prune.fractions',
    'prune_seed': 'prune.seed', 'offset_fraction': 'prune.kwargs.offset.fraction',
    'ccs_num_strata': 'prune.kwargs.ccs.num_strata',
    'ccs_hard_cutoff': 'prune.kwargs.ccs.hard_cutoff', 'retrain_seeds': 'retrain.seeds',
    'retrain_model': 'retrain.model', 'offset_sweep': 'analyses.offset_sweep',
    'error_barrier': 'analyses.error_barrier', 'ntk_velocity': 'analyses.ntk_velocity',
}


def _unknown_override(argv: list[str]) -> str | None:
  """An override of a field that no config has (``--config.budget=60``, a flat name of the
  first configs, now ``--config.optim.budget``): ml_collections would say only ``KeyError``.
  Free-form blocks (model and method keyword arguments) are left to ml_collections and
  preflight, since a config file may add fields there."""
  from configs import base  # pylint: disable=g-import-not-at-top
  known = _fields(base.get_config())
  blocks = {field.rsplit('.', 1)[0] for field in known if '.' in field}
  for arg in argv:
    if not arg.startswith('--config.'):
      continue
    field, _, value = arg.removeprefix('--config.').partition('=')
    if field in blocks and field in _FLAT_NAMES and not value.lstrip().startswith('{'):
      return f'--config.{field} is now --config.{_FLAT_NAMES[field]} (see configs/base.py).'
    if field in known or field in blocks or field.startswith(_FREE_FORM):
      continue
    top, _, rest = field.partition('.')
    if top in _FLAT_NAMES and (not rest or top not in blocks):
      new = _FLAT_NAMES[top] + (f'.{rest}' if rest else '')
      hint = (' (the scoring seeds; retraining seeds are --config.retrain.seeds)'
              if top == 'seeds' else '')
      return (f'--config.{field} is now --config.{new}{hint}: fields are grouped by concern '
              '(see configs/base.py).')
    close = difflib.get_close_matches(field, known, n=1)
    return (f'--config.{field} is not a field'
            + (f'; did you mean --config.{close[0]}?' if close else '')
            + ' (every field is in configs/base.py).')
  return None


def _free_form_hint(argv: list[str]) -> str | None:
  """Why an override inside a free-form block failed: the config file does not set it."""
  from datadiet import selectors  # pylint: disable=g-import-not-at-top
  for arg in argv:
    field = arg.removeprefix('--config.').partition('=')[0]
    if field.startswith('model.kwargs.'):
      return (f'--config.{field}: this config gives the model no such keyword argument; give '
              'them all as one dict, e.g. --config.model.kwargs="{\'widths\': (8, 16)}", or '
              'set config.model.kwargs in a config file.')
    if field.startswith('prune.kwargs.'):
      method, defaults = field.split('.')[2], selectors.default_kwargs()
      if method in defaults:
        return (f'--config.{field}: the {method} method takes no such option; its options: '
                f'{", ".join(defaults[method])}.')
      return (f'--config.{field}: the {method} method takes no options; methods with options: '
              f'{", ".join(defaults)} (see datadiet/selectors.py).')
  return None


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing; a config file that cannot be loaded (a syntax error, an unknown
  setting, no ``get_config``) or an override that cannot be applied (a misspelt field, say) ends
  in one line instead of a chain of tracebacks."""
  if any(arg in _HELP_FLAGS for arg in argv[1:]):
    print(__doc__.strip() + '\n\nFlags:\n' + ''.join(
        f'  --{name}: {flags.FLAGS[name].help}\n'
        for name in ('config', 'workdir', 'print_config', 'continue_with_changed_config'))
          + '  --config.<field>=<value>: override any field of the config.')
    sys.exit(0)
  if problem := _missing_config_file(argv):
    sys.exit(f'datadiet: config: {problem}')
  if problem := _unknown_override(argv):
    sys.exit(f'datadiet: config: {problem}')
  try:
    args = flags.FLAGS(argv)
    _CONFIG.value.keys()  # A config file that failed to load raises its error on first use.
  except flags.Error as e:  # A value of the wrong type: absl's message is one line.
    text = str(e)
    if '--config=None' in text:  # get_config() returned None (absl warned why, above).
      text = f'{_config_file(argv)}: get_config() returned None; it must return the config.'
    elif 'Traceback' in text:  # get_config() raised: its error is the traceback's last line.
      text = f'{_config_file(argv)}: {text.strip().splitlines()[-1]}'
    else:
      text += _type_hint(text)
    sys.exit(f'datadiet: config: {text}')
  except Exception as e:  # pylint: disable=broad-except  # Whatever loading the file raised.
    while e.args and isinstance(e.args[0], BaseException):  # ml_collections wraps its errors.
      e = e.args[0]
    if isinstance(e, SyntaxError):
      text = f'{e.filename}:{e.lineno}: {e.msg}'
    else:
      text = e.args[0] if e.args and isinstance(e.args[0], str) else str(e)
      # ml_collections puts the loading error's traceback into its message: keep its last line.
      lines = [line for line in text.splitlines() if line.strip()]
      text = lines[-1] if len(lines) > 1 and 'Traceback' in text else ' '.join(text.split())
      text = text.split(': ', 1)[1] if text.startswith(f'{type(e).__name__}: ') else text
    if isinstance(e, KeyError) and (hint := _free_form_hint(argv)):
      sys.exit(f'datadiet: config: {hint}')
    sys.exit(f'datadiet: config: {type(e).__name__}: {text}')
  if problem := (_repeated_overrides(argv) or _bare_seed_counts(argv)
                 or _unknown_fields(_CONFIG.value)):
    sys.exit(f'datadiet: config: {problem}')
  return args


def _missing_config_file(argv: list[str]) -> str | None:
  """A config path that names no file (ml_collections would only say that the configuration
  failed to load): say so and list the configs, with the closest first."""
  given = _config_file(argv)
  if given == 'the config file':
    return None
  path = given.split(':', 1)[0]
  if os.path.isfile(path):
    return None
  folder = os.path.dirname(path) or '.'
  candidates = sorted(name for name in (os.listdir(folder) if os.path.isdir(folder) else ())
                      if name.endswith('.py') and not name.startswith('_'))
  if not candidates:
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'configs')
    candidates = sorted(name for name in os.listdir(folder)
                        if name.endswith('.py') and not name.startswith('_'))
  close = difflib.get_close_matches(os.path.basename(path), candidates, n=1)
  shown = os.path.relpath(folder)
  return (f'no config file {path}'
          + (f'; did you mean {os.path.join(shown, close[0])}?' if close else '.')
          + f' Configs in {shown}/: {", ".join(candidates)}.')


def _type_hint(text: str) -> str:
  """For an override of the wrong type (absl: ``flag --config.x=v: <why>``): the field's type
  and this config's value, as an override that parses."""
  match = re.match(r'flag --config\.([\w.]+)=', text)
  try:
    value = config_checks.field_value(_CONFIG.value, match.group(1)) if match else None
  except Exception:  # pylint: disable=broad-except  # The config file itself did not load.
    value = None
  if value is None or isinstance(value, ml_collections.ConfigDict):
    return ''
  kind = type(value).__name__
  return (f'; config.{match.group(1)} is {"an" if kind[0] in "aeiou" else "a"} {kind} (now '
          f'{value!r}), e.g. --config.{match.group(1)}={value!r}.')


def _config_file(argv: list[str]) -> str:
  for i, arg in enumerate(argv):
    if arg.startswith('--config='):
      return arg.split('=', 1)[1]
    if arg == '--config' and i + 1 < len(argv):
      return argv[i + 1]
  return 'the config file'


def _closed_loop(value) -> bool:
  return isinstance(value, RuntimeError) and 'Event loop is closed' in str(value)


def _quiet_closed_event_loops():
  """A damaged checkpoint leaves TensorStore threads calling back into orbax's closed asyncio
  loop; each prints "RuntimeError: Event loop is closed" (through whichever hook its thread
  reaches), burying the one-line error. Those go to the debug log; every other error prints as
  before."""
  default, default_thread, default_unraisable = (sys.excepthook, threading.excepthook,
                                                 sys.unraisablehook)

  def hook(kind, value, traceback):
    if not _closed_loop(value):
      default(kind, value, traceback)

  def thread_hook(args):
    if not _closed_loop(args.exc_value):
      default_thread(args)

  def unraisable_hook(args):
    if not _closed_loop(args.exc_value):
      default_unraisable(args)
  sys.excepthook, threading.excepthook, sys.unraisablehook = hook, thread_hook, unraisable_hook


def _exit_with(message: str, code: int) -> None:
  """Prints ``message`` as the last line on stderr and exits at once."""
  image_reader.shutdown()  # The stream's reader processes, before the exit that skips it.
  print(message, file=sys.stderr, flush=True)
  sys.stdout.flush()
  # Every result is already committed (atomic writes); exiting at once skips the interpreter's
  # shutdown, where orbax/TensorStore threads of a checkpoint that failed to load or write would
  # print tracebacks ("Event loop is closed", the writer's error) after the message. They may
  # print before the exit too: the message is the last thing that reaches stderr.
  os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
  os._exit(code)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if _PRINT_CONFIG.value:
    print(_CONFIG.value)
    return
  if not _WORKDIR.value:
    sys.exit('datadiet: --workdir is required: the directory for the run\'s outputs (e.g. '
             '--workdir=/tmp/datadiet_run); --print_config shows the config without one.')
  logging.get_absl_handler().addFilter(_QuietCheckpointing())
  _quiet_closed_event_loops()
  try:
    report = jobs.run(_CONFIG.value, _WORKDIR.value, _CONTINUE.value)
  except errors.DatadietError as e:  # A problem the user can fix: the message says how, once.
    _exit_with(f'datadiet: {type(e).__name__}: {e}', 1)
  except KeyboardInterrupt:
    _exit_with('datadiet: interrupted. Every result finished before it is kept; relaunch the '
               'same command to resume.', 130)
  except Exception as e:  # pylint: disable=broad-except
    if not errors.disk_full(e):
      raise
    _exit_with(f'datadiet: DiskFullError: the disk filled while writing ({errors.disk_full(e)}). '
               'Every result finished before it is intact (each is written whole or not at '
               'all); free some space and relaunch the same command to resume.', 1)
  if multihost.is_writer():
    print(report)


if __name__ == '__main__':
  app.run(main, flags_parser=_parse_flags)
