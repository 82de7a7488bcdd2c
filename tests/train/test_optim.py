"""Budgets, the paper's and airbench's schedules, and parameter groups."""

import jax
import ml_collections
import numpy as np
import optax
import pytest

from datadiet.scores.losses import label_smoothed_cross_entropy, softmax_cross_entropy
from datadiet.train import optim


def _config(**overrides):
  config = ml_collections.ConfigDict(dict(optim=dict(
      batch_size=128, budget_unit='epochs', budget=200, learning_rate=0.1,
      schedule='piecewise', lr_decay_fractions=(0.3, 0.6, 0.8), lr_decay_factor=0.2,
      momentum=0.9, nesterov=True, weight_decay=5e-4)))
  config.optim.update(overrides)
  return config


def test_budget_in_epochs_or_steps():
  assert optim.total_steps(_config(), 50_000) == 200 * 391
  assert optim.total_steps(_config(budget_unit='steps', budget=78_000), 25_000) == 78_000
  with pytest.raises(ValueError, match='valid: steps, epochs'):
    optim.total_steps(_config(budget_unit='hours'), 10)


def test_piecewise_schedule_matches_the_paper():
  # 78,000 steps = 200 epochs of 390: decays at epochs 60, 120 and 160, whatever the subset.
  schedule = optim.make_schedule(_config(), 78_000)
  assert float(schedule(0)) == pytest.approx(0.1)
  assert float(schedule(60 * 390 - 1)) == pytest.approx(0.1)
  assert float(schedule(60 * 390)) == pytest.approx(0.02)
  assert float(schedule(120 * 390)) == pytest.approx(0.004)
  assert float(schedule(160 * 390)) == pytest.approx(0.0008)


def test_other_schedules_and_errors():
  assert float(optim.make_schedule(_config(schedule='cosine'), 100)(100)) == pytest.approx(0)
  onecycle = optim.make_schedule(_config(schedule='onecycle'), 100)
  assert float(onecycle(30)) == pytest.approx(0.1, rel=1e-3)  # Peak at 30% of the run.
  with pytest.raises(ValueError, match='valid: piecewise, cosine, onecycle, linear, constant'):
    optim.make_schedule(_config(schedule='step'), 100)


def test_linear_schedule_with_warmup_matches_airbenchs_formula():
  total = 476
  schedule = optim.make_schedule(_config(schedule='linear', learning_rate=1.5,
                                         warmup_fraction=0.23, warmup_init_factor=0.2,
                                         final_lr_factor=0.07), total)
  warmup = int(total * 0.23)  # airbench: 109 steps.

  def airbench_factor(step):  # airbench94's get_lr, the factor of step `step` (0-based).
    if step < warmup:
      return 0.2 * (1 - step / warmup) + step / warmup
    frac = (step - warmup) / (total - warmup)
    return 1 - frac + 0.07 * frac

  np.testing.assert_allclose([float(schedule(s)) for s in range(total)],
                             [1.5 * airbench_factor(s) for s in range(total)], rtol=1e-5)


def _groups_config(**groups):
  config = _config(learning_rate=0.5, momentum=0.0, nesterov=False, weight_decay=0.1,
                   schedule='constant', budget_unit='steps', budget=10)
  config.optim.param_groups = groups
  return config


def test_param_groups_scale_the_gradient_not_the_weight_decay_and_stop():
  config = _groups_config(
      norm=dict(params=r'norm/bias$', lr_multiplier=64.0, train_fraction=1.0),
      whiten=dict(params=r'^whiten/', lr_multiplier=1.0, train_fraction=0.3))
  params = {'norm': {'bias': np.array([1.0])}, 'whiten': {'bias': np.array([1.0])},
            'conv': {'kernel': np.array([1.0])}}
  assert jax.tree.leaves(optim.group_labels(config, params)) == ['default', 'norm', 'whiten']
  optimizer = optim.make_optimizer(config, 10)
  state = optimizer.init(params)
  grads = jax.tree.map(lambda p: np.array([2.0]), params)
  seen = []
  for _ in range(5):
    updates, state = optimizer.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    seen.append(jax.tree.map(lambda p: float(p[0]), jax.device_get(params)))
  # One step: p − lr·(multiplier·g + wd·p).
  assert seen[0]['conv']['kernel'] == pytest.approx(1 - 0.5 * (2 + 0.1))
  assert seen[0]['norm']['bias'] == pytest.approx(1 - 0.5 * (64 * 2 + 0.1))
  # The whitening group trains for round(0.3 × 10) = 3 steps, then stays where it is.
  whiten = [s['whiten']['bias'] for s in seen]
  assert whiten[2] != whiten[1] and whiten[4] == whiten[3] == whiten[2]


def test_param_groups_are_checked():
  params = {'head': {'kernel': np.zeros(2)}, 'norm1': {'bias': np.zeros(2)}}
  with pytest.raises(ValueError, match=r"\['typo'\] match no parameter of resnet18; its "
                                       'parameters: head/kernel, norm1/bias'):
    config = _groups_config(typo=dict(params='nrom', lr_multiplier=2.0, train_fraction=1.0))
    config.model = dict(name='resnet18')
    optim.check_param_groups(config, params)
  overlapping = _groups_config(all=dict(params='bias$', lr_multiplier=2.0, train_fraction=1.0),
                               norm=dict(params='norm', lr_multiplier=2.0, train_fraction=1.0))
  overlapping.model = dict(name='resnet18')
  with pytest.raises(ValueError, match=r"\['all', 'norm'\] all match norm1/bias; a parameter "
                                       'trains in one group'):
    optim.check_param_groups(overlapping, params)
  bad = [(dict(params='(', lr_multiplier=2.0, train_fraction=1.0), 'not a regular expression'),
         (dict(params='x', lr_multiplier=0.0, train_fraction=1.0), 'lr_multiplier must be a '
          'positive'),
         (dict(params='x', lr_multiplier=1.0, train_fraction=0.0), r'train_fraction must be in '
          r'\(0, 1\]'),
         (dict(params='x', lr_multiplier=1.0), 'must be dict')]
  for group, message in bad:
    with pytest.raises(ValueError, match=message):
      optim.param_groups(_groups_config(g=group))


def test_training_loss_is_smoothed_when_asked_and_checked():
  assert optim.training_loss(_config()) is softmax_cross_entropy  # Configs without the field.
  logits, labels = np.array([[2.0, 0.0, -1.0]], np.float32), np.array([0])
  smoothed = optim.training_loss(_config(label_smoothing=0.2))(logits, labels)
  np.testing.assert_allclose(smoothed, label_smoothed_cross_entropy(logits, labels, 0.2))
  with pytest.raises(ValueError, match=r'label_smoothing must be in \[0, 1\) \(airbench: 0.2\), '
                                       'got 1.5'):
    optim.training_loss(_config(label_smoothing=1.5))
