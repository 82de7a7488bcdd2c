"""Budgets and the paper's schedule."""

import ml_collections
import pytest

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
  with pytest.raises(ValueError, match='valid: piecewise, cosine, onecycle, constant'):
    optim.make_schedule(_config(schedule='step'), 100)
