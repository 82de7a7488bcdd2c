"""The errors datadiet raises for problems a user can fix; ``launch.py`` prints their message
and exits non-zero, without a traceback. Every message names what is wrong and the valid
choices or the fix, and is raised before any existing result is touched.
"""


import errno


class DatadietError(Exception):
  """A problem with the run's input or state, explained in the message."""


class InputError(DatadietError, ValueError):
  """A config value, dataset, score file, checkpoint or workdir the run cannot use."""


class MissingInputError(InputError, FileNotFoundError):
  """A file or directory the run needs does not exist."""


class OutOfMemoryError(DatadietError, MemoryError):
  """A device ran out of memory: the message names the batch sizes and dtypes to lower."""


class DiskFullError(DatadietError, OSError):
  """A result could not be written: the filesystem is full (or over quota)."""


class NotWritableError(DatadietError, OSError):
  """A result could not be written: no permission, or a read-only filesystem."""


def raise_if_unwritable(error: OSError, path) -> None:
  """Re-raises ``error`` as one clear error naming ``path`` when the disk is full or the place
  is not writable; returns otherwise (the caller re-raises the original)."""
  code = getattr(error, 'errno', None)
  reason = error.strerror or str(error)
  intact = 'results finished before it are intact (each is written whole or not at all)'
  if code in (errno.ENOSPC, errno.EDQUOT):
    raise DiskFullError(f'Could not write {path}: {reason}. The {intact}; free some space and '
                        'relaunch the same command to resume.') from error
  if code in (errno.EACCES, errno.EPERM, errno.EROFS):
    raise NotWritableError(f'Could not write {path}: {reason}. The {intact}; make the workdir '
                           'writable (or give another --workdir) and relaunch.') from error


def disk_full(error: BaseException) -> str | None:
  """The OS's words when ``error``, or one it was raised from, is a full disk (orbax wraps its
  writer threads' errors), else None."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
      return error.strerror or str(error)
    if 'No space left on device' in str(error):
      return 'No space left on device'
    error = error.__cause__ or error.__context__
  return None

