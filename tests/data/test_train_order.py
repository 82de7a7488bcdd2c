"""Training order: exactly the kept ids each epoch, per-seed orders, pure in (seed, step); the
alternating flip across epochs."""

import ml_collections
import numpy as np
import pytest

from datadiet import errors
from datadiet.data import augment, train_order

NUM = 40


def test_each_kept_id_exactly_once_per_epoch_per_seed():
  kept = np.array([1, 3, 4, 8, 9, 15, 16, 22, 23, 30, 31, 39])  # 12 kept: epoch = 1.5 batches.
  order = train_order.TrainOrder(kept, seeds=[0, 1], batch_size=8, data_seed=0)
  batches = list(order.batches(0, 6))  # 48 examples = 4 epochs per seed.
  for k in range(2):
    seen = np.concatenate([b['index'][k] for b in batches])
    for epoch in range(4):
      assert sorted(seen[12 * epoch:12 * (epoch + 1)].tolist()) == kept.tolist()
  assert not np.array_equal(batches[0]['index'][0], batches[0]['index'][1])  # Own orders.


def test_a_step_is_a_pure_function_of_data_seed_seed_and_step():
  positions = np.arange(NUM)
  walked = list(train_order.TrainOrder(positions, [0, 1], 8, 0, augment=True).batches(0, 9))
  for step in (8, 5, 0):  # Out of order, from a fresh order: as a resumed run asks.
    alone = train_order.TrainOrder(positions, [0, 1], 8, 0, augment=True).batch(step)
    for key in ('index', 'offset', 'flip'):
      np.testing.assert_array_equal(walked[step][key], alone[key])
  # One seed's row does not depend on the other seeds in the ensemble.
  np.testing.assert_array_equal(
      train_order.TrainOrder(positions, [1], 8, 0).batch(3)['index'][0], walked[3]['index'][1])
  other = train_order.TrainOrder(positions, [0, 1], 8, data_seed=1).batch(0)
  assert not np.array_equal(walked[0]['index'], other['index'])


def test_augmentation_draws_belong_to_their_step_and_seed():
  batch = train_order.TrainOrder(np.arange(NUM), [0, 7], 8, 3, augment=True).batch(5)
  offsets, flips = augment.draw(3, 7, 5, 8)
  np.testing.assert_array_equal(batch['offset'][1], offsets)
  np.testing.assert_array_equal(batch['flip'][1], flips)
  assert 'offset' not in train_order.TrainOrder(np.arange(NUM), [0], 8, 3).batch(5)


def test_empty_subset_is_refused():
  with pytest.raises(ValueError, match='empty subset'):
    train_order.TrainOrder(np.array([], np.int64), [0], 8, 0)


def test_per_seed_kept_sets_give_each_seed_the_batches_of_its_own_set():
  rng = np.random.default_rng(3)
  per_seed = np.stack([np.sort(rng.choice(100, 30, replace=False)) for _ in range(2)])
  order = train_order.TrainOrder(per_seed, [5, 9], 8, data_seed=0, augment=True)
  for step in (0, 3, 4, 11):  # Within and across epochs of 30 examples.
    batch = order.batch(step)
    for k, seed in enumerate((5, 9)):
      alone = train_order.TrainOrder(per_seed[k], [seed], 8, data_seed=0, augment=True).batch(step)
      np.testing.assert_array_equal(batch['index'][k], alone['index'][0])
      np.testing.assert_array_equal(batch['flip'][k], alone['flip'][0])
      assert set(batch['index'][k]) <= set(per_seed[k])
  with pytest.raises(errors.InputError, match='2 per-seed subsets for 3 seeds'):
    train_order.TrainOrder(per_seed, [0, 1, 2], 8, data_seed=0)


def test_alternating_flip_turns_every_image_each_epoch_across_straddling_batches():
  kept = np.arange(3, 15)  # 12 kept, batches of 8: batches straddle epochs.
  order = train_order.TrainOrder(kept, [0, 1], 8, 0, augment=True, max_translate=2,
                                 flip='alternating')
  flip_by_epoch = {}  # (seed, position, epoch) -> flipped
  for step in range(6):  # 48 examples: 4 epochs per seed.
    batch = order.batch(step)
    assert batch['offset'].min() >= 2 and batch['offset'].max() <= 6
    epochs = (step * 8 + np.arange(8)) // 12
    np.testing.assert_array_equal(order.epochs(step), epochs)
    for k in range(2):
      for position, epoch, flip in zip(batch['index'][k], epochs, batch['flip'][k]):
        flip_by_epoch[k, int(position), int(epoch)] = bool(flip)
  for k in range(2):
    for position in kept:
      flips = [flip_by_epoch[k, position, epoch] for epoch in range(4)]
      assert flips[1::2] == [not f for f in flips[0::2]] and flips[2] == flips[0]


@pytest.mark.parametrize('data, message', [
    (dict(augment='pad_crop_flip', max_translate=5, flip='random'), r'in \[0, 4\]'),
    (dict(augment='pad_crop_flip', max_translate=2, flip='sometimes'), 'random, alternating'),
    (dict(augment='none', max_translate=2, flip='random'), 'set --config.data.augment='
     'pad_crop_flip')])
def test_crop_flip_options_are_checked(data, message):
  with pytest.raises(errors.InputError, match=message):
    train_order.crop_flip_options(ml_collections.ConfigDict(data))
