"""Test settings (quiet TensorFlow, JAX on the CPU) and shared fixtures."""

import os
import tempfile

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
# One compilation cache for the session (subprocesses inherit it): the many short pipelines
# compile the same steps over and over.
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', tempfile.mkdtemp(prefix='datadiet-jax-'))


@pytest.fixture
def write_image_folder():
  """Writes a tiny ``<root>/<split>/<class>/NN.png`` tree of ``size``×``size`` images; pixel
  values encode class and index."""

  def write(root, classes=('cat', 'dog'), per_class=3, size=6):
    rng = np.random.default_rng(0)
    for split in ('train', 'test'):
      for label, name in enumerate(classes):
        (root / split / name).mkdir(parents=True)
        for i in range(per_class):
          pixels = np.full((size, size, 3), 40 * label + i, np.uint8) + rng.integers(
              0, 3, (size, size, 3), dtype=np.uint8)
          Image.fromarray(pixels).save(root / split / name / f'{i:02d}.png')

  return write


@pytest.fixture
def write_varied_image_folder():
  """Writes ``<root>/<split>/<class>/NN.<suffix>`` of random images of varying sizes (between
  ``min_side`` and ``max_side`` pixels a side): ImageNet-like data in miniature."""

  def write(root, classes=('cat', 'dog', 'eel'), per_class=6, suffix='jpg', min_side=20,
            max_side=48, seed=0):
    rng = np.random.default_rng(seed)
    for split in ('train', 'test'):
      for name in classes:
        (root / split / name).mkdir(parents=True)
        for i in range(per_class if split == 'train' else max(2, per_class // 3)):
          height, width = rng.integers(min_side, max_side + 1, 2)
          pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
          Image.fromarray(pixels).save(root / split / name / f'{i:02d}.{suffix}')
    return f'image_folder:{root}'

  return write


@pytest.fixture(autouse=True)
def _fresh_dataset_cache():
  """``sources.load`` keeps datasets per process; a test must not see another test's (mock)
  data under the same name."""
  from datadiet.data import sources
  sources._load_once.cache_clear()  # pylint: disable=protected-access
  sources._index_once.cache_clear()  # pylint: disable=protected-access
  yield
