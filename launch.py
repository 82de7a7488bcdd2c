"""Runs a datadiet experiment from an ml_collections config file.

  python launch.py --config configs/default.py --workdir /tmp/dd [--config.optim.budget=600]
  python launch.py --config configs/default.py --print_config   # every field, no work done

Every field, by block, is described in ``configs/base.py``; ``--print_config`` prints a
config's resolved values (each pruning method's options included) and exits.
"""

import logging as py_logging
import os
import sys
import threading

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')  # TensorFlow's C++ start-up chatter.
# JAX names each accelerator backend it could not open (libtpu on every non-TPU machine).
py_logging.getLogger('jax._src.xla_bridge').setLevel(py_logging.WARNING)

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

# Only what reading the flags needs: JAX and the engine load in main(), after the flags are
# read, so that a mistyped flag or config is refused in a fraction of a second.
from datadiet import command_line, errors, interruption  # noqa: E402

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


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing; a config file that cannot be loaded (a syntax error, an unknown
  setting, no ``get_config``) or an override that cannot be applied (a misspelt field, say) ends
  in one line instead of a chain of tracebacks (:mod:`datadiet.command_line`)."""
  if any(arg in _HELP_FLAGS for arg in argv[1:]):
    print(__doc__.strip() + '\n\nFlags:\n' + ''.join(
        f'  --{name}: {flags.FLAGS[name].help}\n'
        for name in ('config', 'workdir', 'print_config', 'continue_with_changed_config'))
          + '  --config.<field>=<value>: override any field of the config.')
    sys.exit(0)
  if problem := command_line.before_parsing(argv):
    sys.exit(f'datadiet: config: {problem}')
  try:
    args = flags.FLAGS(argv)
    _CONFIG.value.keys()  # A config file that failed to load raises its error on first use.
  except Exception as e:  # pylint: disable=broad-except  # Whatever loading the file raised.
    try:
      loaded = _CONFIG.value
    except Exception:  # pylint: disable=broad-except  # The file itself did not load.
      loaded = None
    sys.exit(f'datadiet: config: {command_line.load_error(e, argv, loaded)}')
  if problem := command_line.after_parsing(argv, _CONFIG.value):
    sys.exit(f'datadiet: config: {problem}')
  return args


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
  if 'datadiet.data.image_reader' in sys.modules:  # The stream's reader processes, before the
    sys.modules['datadiet.data.image_reader'].shutdown()  # exit that skips their cleanup.
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
    print('\n'.join(command_line.config_lines(_CONFIG.value)))
    return
  if _WORKDIR.value is None:
    sys.exit('datadiet: --workdir is required: the directory for the run\'s outputs (e.g. '
             '--workdir=/tmp/datadiet_run); --print_config shows the config without one.')
  logging.get_absl_handler().addFilter(_QuietCheckpointing())
  _quiet_closed_event_loops()
  interruption.install()
  try:
    from datadiet import jobs  # pylint: disable=g-import-not-at-top  # JAX and the engine.
    report = jobs.run(_CONFIG.value, _WORKDIR.value, _CONTINUE.value)
  except errors.DatadietError as e:  # A problem the user can fix: the message says how, once.
    _exit_with(f'datadiet: {type(e).__name__}: {e}', 1)
  except KeyboardInterrupt:
    interruption.stopping()
    _exit_with('datadiet: interrupted. Every result finished before it is kept; relaunch the '
               'same command to resume.', 130)
  except Exception as e:  # pylint: disable=broad-except
    if not errors.disk_full(e):
      raise
    _exit_with(f'datadiet: DiskFullError: the disk filled while writing ({errors.disk_full(e)}). '
               'Every result finished before it is intact (each is written whole or not at '
               'all); free some space and relaunch the same command to resume.', 1)
  from datadiet import multihost  # pylint: disable=g-import-not-at-top
  if multihost.is_writer():
    print(report)


if __name__ == '__main__':
  app.run(main, flags_parser=_parse_flags)
