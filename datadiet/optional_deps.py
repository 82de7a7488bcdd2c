"""TensorFlow and TFDS are optional: only the ``tf_data`` input path, TFDS datasets and
TensorBoard event files need them. Everything else imports them lazily through here, so that
``import datadiet`` and every job on ``digits`` or ``image_folder:`` run without them.
"""

from __future__ import annotations

import importlib.util

from datadiet import errors

INSTALL_HINT = "pip install 'datadiet[tf]'"


def tensorflow_available() -> bool:
  """Whether TensorFlow is installed (found without importing it, which takes seconds)."""
  try:
    return importlib.util.find_spec('tensorflow') is not None
  except (ImportError, ValueError):
    return False


def import_tensorflow():
  """TensorFlow, kept off the accelerators: it only feeds tf.data, reads TFDS and writes
  TensorBoard files here, and a TensorFlow that initialises a GPU takes most of its memory
  from JAX."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    tf.config.set_visible_devices([], 'GPU')
  except RuntimeError:  # TensorFlow's devices were initialised before: the caller's choice.
    pass
  return tf


def import_tfds(dataset: str):
  """``tensorflow_datasets``, or an InputError saying how to get it for ``dataset``."""
  try:
    import_tensorflow()
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.InputError(
        f'Dataset {dataset!r} is read through TFDS, which is not installed ({e}); '
        f'{INSTALL_HINT}, or use a form that needs no TensorFlow: digits, '
        'image_folder:<path>.') from e
  return tfds
