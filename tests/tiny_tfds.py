"""A TFDS dataset of variable-size JPEGs built offline in the ArrayRecord format (random access),
for the tests of the stream input path: ``build(data_dir)`` prepares ``tiny_images`` there."""

import numpy as np
import tensorflow_datasets as tfds

NAME = 'tiny_images'


class TinyImages(tfds.core.GeneratorBasedBuilder):
  """14 training and 5 test images of 18–49 pixels a side, 3 classes."""
  VERSION = tfds.core.Version('1.0.0')

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
        'image': tfds.features.Image(shape=(None, None, 3), encoding_format='jpeg'),
        'label': tfds.features.ClassLabel(num_classes=3)}), supervised_keys=('image', 'label'))

  def _split_generators(self, dl_manager):
    del dl_manager
    return {'train': self._generate_examples(0, 14), 'test': self._generate_examples(1, 5)}

  def _generate_examples(self, seed, count):
    rng = np.random.default_rng(seed)
    for i in range(count):
      height, width = rng.integers(18, 50, 2)
      yield f'{seed}-{i}', {'image': rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
                            'label': i % 3}


def build(data_dir) -> str:
  """Prepares the dataset under ``data_dir``; returns its name."""
  TinyImages(data_dir=str(data_dir), file_format='array_record').download_and_prepare()
  return NAME
