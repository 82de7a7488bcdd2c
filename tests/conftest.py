"""Test settings (quiet TensorFlow, JAX on the CPU) and shared fixtures."""

import os

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')


@pytest.fixture
def write_image_folder():
  """Writes a tiny ``<root>/<split>/<class>/NN.png`` tree; pixel values encode class and index."""

  def write(root, classes=('cat', 'dog'), per_class=3):
    rng = np.random.default_rng(0)
    for split in ('train', 'test'):
      for label, name in enumerate(classes):
        (root / split / name).mkdir(parents=True)
        for i in range(per_class):
          pixels = np.full((6, 6, 3), 40 * label + i, np.uint8) + rng.integers(
              0, 3, (6, 6, 3), dtype=np.uint8)
          Image.fromarray(pixels).save(root / split / name / f'{i:02d}.png')

  return write
