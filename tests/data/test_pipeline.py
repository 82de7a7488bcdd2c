"""Training streams: exactly the kept ids each epoch, deterministic, resumable, augmented."""

import numpy as np
import pytest

from datadiet.data import pipeline

NUM = 40


def _split():
  rng = np.random.default_rng(0)
  return {'image': rng.integers(0, 256, (NUM, 8, 8, 3), dtype=np.uint8),
          'label': np.arange(NUM, dtype=np.int32) % 4}


def _stream(positions, seeds=(0, 1), start=0, steps=9, augment=False, data_seed=0):
  split = _split()
  return list(pipeline.train_stream(split, positions, list(seeds), 8, data_seed, start, steps,
                                    pipeline.channel_stats(split['image']),
                                    augment=augment).as_numpy_iterator())


def test_each_kept_id_exactly_once_per_epoch_per_seed():
  kept = np.array([1, 3, 4, 8, 9, 15, 16, 22, 23, 30, 31, 39])  # 12 kept: epoch = 1.5 batches.
  batches = _stream(kept, steps=6)  # 48 examples = 4 epochs per seed.
  for k in range(2):
    seen = np.concatenate([b['index'][k] for b in batches])
    for epoch in range(4):
      assert sorted(seen[12 * epoch:12 * (epoch + 1)].tolist()) == kept.tolist()
  assert not np.array_equal(batches[0]['index'][0], batches[0]['index'][1])  # Own orders.


def test_deterministic_and_resumable():
  positions = np.arange(NUM)
  full = _stream(positions, augment=True)
  again = _stream(positions, augment=True)
  resumed = _stream(positions, start=5, steps=4, augment=True)
  for a, b in zip(full, again):
    np.testing.assert_array_equal(a['image'], b['image'])
  for a, b in zip(full[5:], resumed):
    np.testing.assert_array_equal(a['image'], b['image'])
    np.testing.assert_array_equal(a['index'], b['index'])
  other = _stream(positions, augment=True, data_seed=1)
  assert not np.array_equal(full[0]['index'], other[0]['index'])


def test_augmentation_is_a_crop_of_the_reflect_padded_image_maybe_flipped():
  positions = np.arange(NUM)
  plain = _stream(positions, steps=3)
  augmented = _stream(positions, steps=3, augment=True)
  assert plain[0]['image'].shape == augmented[0]['image'].shape == (2, 8, 8, 8, 3)
  changed, only_flipped, only_unflipped = 0, 0, 0
  for p, a in zip(plain, augmented):
    np.testing.assert_array_equal(p['index'], a['index'])
    for image, aug in zip(p['image'].reshape(-1, 8, 8, 3), a['image'].reshape(-1, 8, 8, 3)):
      # Normalisation is per channel, so it commutes with padding, cropping and flipping.
      padded = np.pad(image, ((4, 4), (4, 4), (0, 0)), mode='reflect')
      matches = [(dy, dx, flip) for dy in range(9) for dx in range(9) for flip in (False, True)
                 if np.allclose(aug, padded[dy:dy + 8, dx:dx + 8][:, ::-1] if flip
                                else padded[dy:dy + 8, dx:dx + 8])]
      assert matches, 'augmented image is not a flipped crop of the padded original'
      changed += (4, 4, False) not in matches
      # Reflect padding is symmetric at the edges, so some crops match both ways.
      only_flipped += all(flip for _, _, flip in matches)
      only_unflipped += not any(flip for _, _, flip in matches)
  num_images = 3 * 2 * 8
  assert changed > 0.5 * num_images
  assert only_flipped >= 5 and only_unflipped >= 5


def test_normalisation_and_eval_batches():
  split = _split()
  stats = pipeline.channel_stats(split['image'])
  normalized = pipeline.normalize(split['image'], stats)
  np.testing.assert_allclose(normalized.reshape(-1, 3).mean(0), 0, atol=1e-5)
  np.testing.assert_allclose(normalized.reshape(-1, 3).std(0), 1, atol=1e-5)
  batches = list(pipeline.eval_batches(split, 16, stats))
  assert [int(b['mask'].sum()) for b in batches] == [16, 16, 8]
  np.testing.assert_array_equal(np.concatenate([b['label'][b['mask']] for b in batches]),
                                split['label'])


def test_empty_subset_is_refused():
  with pytest.raises(ValueError, match='empty subset'):
    _stream(np.array([], np.int64))
