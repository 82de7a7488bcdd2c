"""Process-level setup: where the compilation cache goes."""

from pathlib import Path

import ml_collections

from datadiet import runtime


def test_compilation_cache_dir_is_relative_to_the_workdir_unless_absolute(tmp_path):
  config = ml_collections.ConfigDict(dict(runtime=dict(compilation_cache_dir='jax_cache')))
  assert runtime.compilation_cache_dir(config, Path('/runs/a')) == Path('/runs/a/jax_cache')
  config.runtime.compilation_cache_dir = str(tmp_path / 'shared')
  assert runtime.compilation_cache_dir(config, Path('/runs/a')) == tmp_path / 'shared'
  config.runtime.compilation_cache_dir = ''
  assert runtime.compilation_cache_dir(config, Path('/runs/a')) is None
