"""The errors datadiet raises for problems a user can fix; ``launch.py`` prints their message
and exits non-zero, without a traceback. Every message names what is wrong and the valid
choices or the fix, and is raised before any existing result is touched.
"""


class DatadietError(Exception):
  """A problem with the run's input or state, explained in the message."""


class InputError(DatadietError, ValueError):
  """A config value, dataset, score file, checkpoint or workdir the run cannot use."""


class MissingInputError(InputError, FileNotFoundError):
  """A file or directory the run needs does not exist."""
