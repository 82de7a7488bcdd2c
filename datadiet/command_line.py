"""Reading a run's config from the command line: each mistake as one line naming the fix.

ml_collections reports a misspelt field as ``KeyError``, a config file that fails to load as a
chained traceback, and silently joins a tuple field given twice; the checks here turn each into
one sentence, before the config is used. :func:`before_parsing` looks at the arguments alone,
:func:`load_error` explains an exception of loading or overriding, and :func:`after_parsing`
checks the loaded config against the arguments.

Example (``launch.py``)::

  if problem := command_line.before_parsing(argv):
    sys.exit(f'datadiet: config: {problem}')
"""

from __future__ import annotations

import difflib
import os
import re

import ml_collections

from datadiet import config_checks

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'configs')

# Free-form blocks: the model, each pruning method and the optimizer's parameter groups check
# their own fields (preflight).
FREE_FORM = ('model.kwargs', 'prune.kwargs', 'optim.param_groups')


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


def _fields(config: ml_collections.ConfigDict, prefix: str = '') -> set[str]:
  """Every field of ``config``, nested ones dotted (``analyses.offset_sweep.offsets``)."""
  fields = set()
  for key, value in config.items():
    if prefix + key in FREE_FORM:
      continue
    if isinstance(value, ml_collections.ConfigDict):
      fields |= _fields(value, f'{prefix}{key}.')
    else:
      fields.add(prefix + key)
  return fields


def _unknown_override(argv: list[str]) -> str | None:
  """An override of a field that no config has (``--config.optim.budgett=60``): ml_collections
  would say only ``KeyError``. Free-form blocks (model and method keyword arguments) are left to
  ml_collections and preflight, since a config file may add fields there."""
  from configs import base  # pylint: disable=g-import-not-at-top
  known = _fields(base.get_config())
  blocks = {field.rsplit('.', 1)[0] for field in known if '.' in field}
  for field, value, _ in _overrides(argv):
    if field in blocks and not field.startswith(FREE_FORM) and not value.lstrip().startswith('{'):
      inside = sorted(f.removeprefix(f'{field}.') for f in known
                      if f.startswith(f'{field}.') and '.' not in f.removeprefix(f'{field}.'))
      example = 'name' if 'name' in inside else inside[0]
      return (f'--config.{field} is a block of fields ({", ".join(inside)}): override one, '
              f'e.g. --config.{field}.{example}={value}')
    if field in known or field in blocks or field.startswith(FREE_FORM):
      continue
    # The closest name, else every field of that name in another block (a block left out).
    close = difflib.get_close_matches(field, sorted(known), n=1) or sorted(
        f for f in known if f.rsplit('.', 1)[-1] == field.rsplit('.', 1)[-1])
    return (f'--config.{field} is not a field'
            + (f'; did you mean {" or ".join(f"--config.{c}" for c in close)}?' if close else '')
            + ' (every field is in configs/base.py).')
  return None


def _missing_config_file(argv: list[str]) -> str | None:
  """A config path that names no file (ml_collections would only say that the configuration
  failed to load): say so and list the configs, with the closest first."""
  given = config_file(argv)
  if given == 'the config file':
    return None
  path = given.split(':', 1)[0]
  if os.path.isfile(path):
    return None
  folder = os.path.dirname(path) or '.'
  candidates = _configs_in(folder)
  if not candidates:
    folder = CONFIGS
    candidates = _configs_in(folder)
  close = difflib.get_close_matches(os.path.basename(path), candidates, n=1)
  shown = os.path.relpath(folder)
  return (f'no config file {path}'
          + (f'; did you mean {os.path.join(shown, close[0])}?' if close else '.')
          + f' Configs in {shown}/: {", ".join(candidates)}.')


def config_file(argv: list[str]) -> str:
  """The config file named by ``argv`` (``--config=x`` or ``--config x``)."""
  for i, arg in enumerate(argv):
    if arg.startswith('--config='):
      return arg.split('=', 1)[1]
    if arg == '--config' and i + 1 < len(argv):
      return argv[i + 1]
  return 'the config file'


def before_parsing(argv: list[str]) -> str | None:
  """What is wrong with ``argv`` that is knowable before loading the config: no config named, a
  config file that does not exist, an override of a field no config has."""
  if not any(arg == '--config' or arg.startswith('--config=') for arg in argv):
    return ('--config is required: a config file, e.g. --config configs/default.py '
            f'(configs: {", ".join(_configs_in(CONFIGS))}).')
  return _missing_config_file(argv) or _unknown_override(argv)


def _configs_in(folder: str) -> list[str]:
  return sorted(name for name in (os.listdir(folder) if os.path.isdir(folder) else ())
                if name.endswith('.py') and not name.startswith('_'))


def _bare_seed_counts(argv: list[str], config: ml_collections.ConfigDict) -> str | None:
  """``--config.pretrain.seeds=4`` parses as the one seed ``(4,)``, though it reads as "4 seeds":
  refuse a bare integer for any tuple of seeds and show both spellings."""
  for field, value, typed in _overrides(argv):
    if (field.endswith('seeds') and value.strip().isdigit()
        and isinstance(config_checks.field_value(config, field), tuple)):
      n = int(value)
      many = (f"'{tuple(range(n))}'" if n <= 8 else f"'(0, 1, ..., {n - 1})' (every seed "
              'written out)')
      return (f'{typed} would be the one seed ({n},), not {n} '
              f"seeds: write --config.{field}={many} for {n} seeds, or "
              f"--config.{field}='({n},)' for the seed {n} alone.")
  return None


def _repeated_overrides(argv: list[str], config: ml_collections.ConfigDict) -> str | None:
  """A field overridden twice: ml_collections joins the two values of a tuple field
  (``seeds='(0,1)'`` then ``seeds='(5,)'`` gives ``(0, 1, 5)``) instead of keeping the last, so
  refuse the repeat (a README command with one more override appended makes it easily)."""
  given = {}
  for field, value, _ in _overrides(argv):
    if field in given:
      joined = isinstance(config_checks.field_value(config, field), tuple)
      return (f'--config.{field} is given twice ({given[field]!r}, then {value!r}); give it '
              'once' + (' (the values of a repeated tuple field would be joined, not replaced).'
                        if joined else '.'))
    given[field] = value
  return None


def _unknown_fields(config: ml_collections.ConfigDict, argv: list[str]) -> str | None:
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
  return (f'{config_file(argv)} sets fields no job reads: {", ".join(hints)}; fix the '
          'names (see configs/base.py for every field).')


def after_parsing(argv: list[str], config: ml_collections.ConfigDict) -> str | None:
  """What is wrong with the loaded ``config`` given ``argv``: a field overridden twice, a bare
  seed count, a field the config file sets that no job reads."""
  return (_repeated_overrides(argv, config) or _bare_seed_counts(argv, config)
          or _unknown_fields(config, argv))


def _type_hint(text: str, config: ml_collections.ConfigDict | None) -> str:
  """For an override of the wrong type (absl: ``flag --config.x=v: <why>``): the field's type
  and this config's value, as an override that parses."""
  match = re.match(r'flag --config\.([\w.]+)=', text)
  try:
    value = config_checks.field_value(config, match.group(1)) if match else None
  except Exception:  # pylint: disable=broad-except  # The config file itself did not load.
    value = None
  if value is None or isinstance(value, ml_collections.ConfigDict):
    return ''
  kind = type(value).__name__
  return (f'; config.{match.group(1)} is {"an" if kind[0] in "aeiou" else "a"} {kind} (now '
          f'{value!r}), e.g. --config.{match.group(1)}={value!r}.')


def _free_form_hint(argv: list[str]) -> str | None:
  """Why an override inside a free-form block failed: the config file does not set it."""
  from datadiet import pruning_methods  # pylint: disable=g-import-not-at-top
  for arg in argv:
    field = arg.removeprefix('--config.').partition('=')[0]
    if field.startswith('model.kwargs.'):
      return (f'--config.{field}: this config gives the model no such keyword argument; give '
              'them all as one dict, e.g. --config.model.kwargs="{\'widths\': (8, 16)}", or '
              'set config.model.kwargs in a config file.')
    if field.startswith('prune.kwargs.'):
      method, defaults = field.split('.')[2], pruning_methods.default_kwargs()
      if method in defaults:
        return (f'--config.{field}: the {method} method takes no such option; its options: '
                f'{", ".join(defaults[method])}.')
      return (f'--config.{field}: the {method} method takes no options; methods with options: '
              f'{", ".join(defaults)} (see datadiet/pruning_methods.py).')
  return None


def load_error(error: BaseException, argv: list[str],
               config: ml_collections.ConfigDict | None = None) -> str:
  """One line for an exception raised while loading the config file or applying an override
  (``config``: the loaded config, when there is one, for the type of an overridden field)."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  if isinstance(error, flags.Error):  # A value of the wrong type: absl's message is one line.
    text = str(error)
    if '--config=None' in text:  # get_config() returned None (absl warned why, above).
      return f'{config_file(argv)}: get_config() returned None; it must return the config.'
    if 'get_config() takes 0 positional arguments' in text:  # A setting it does not take.
      path, _, setting = config_file(argv).partition(':')
      return f'{path} has no settings (it was given {setting!r}): use --config {path}.'
    if 'Traceback' in text:  # get_config() raised: its error is the traceback's last line.
      return f'{config_file(argv)}: {text.strip().splitlines()[-1]}'
    return text + _type_hint(text, config)
  e = error
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
    return hint
  return f'{type(e).__name__}: {text}'


def config_lines(config: ml_collections.ConfigDict, prefix: str = '') -> list[str]:
  """``field = value`` for every field of ``config``, dotted and in the config's order (what
  ``--print_config`` prints: each line is also the override that sets it)."""
  lines = []
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      lines += config_lines(value, f'{prefix}{key}.')
    else:
      lines.append(f'{prefix}{key} = {value!r}')
  return lines

