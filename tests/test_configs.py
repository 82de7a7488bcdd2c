"""Every config file builds, runs through launch's flag parser, and plans a valid experiment."""

import importlib
from pathlib import Path

import pytest
import tensorflow_datasets as tfds

from datadiet import jobs, models
from datadiet.stages import prune
from datadiet.stages.context import Context

CONFIGS = sorted(p.stem for p in (Path(__file__).parents[1] / 'configs').glob('*.py')
                 if p.stem != '__init__')


@pytest.mark.parametrize('name', CONFIGS)
def test_config_is_consistent(name, tmp_path, write_image_folder):
  config = importlib.import_module(f'configs.{name}').get_config()
  assert config.job in jobs.JOBS
  models.get_model(config.model, num_classes=10)  # A registered model.
  assert 'launch.py --config configs/' + name in importlib.import_module(f'configs.{name}').__doc__
  if config.job != 'pipeline':
    return
  if config.dataset.startswith('image_folder:'):
    # A stand-in folder: the plan depends on the config, not on the images.
    write_image_folder(tmp_path / 'images', per_class=5)
    config.dataset = f'image_folder:{tmp_path / "images"}'
    plan = prune.subset_plan(Context(config, tmp_path))
  else:
    with tfds.testing.mock_data(num_examples=20):
      plan = prune.subset_plan(Context(config, tmp_path))
  assert plan and len({entry['name'] for entry in plan}) == len(plan)
  steps = set(config.score_steps) | {config.budget}
  assert all(entry['step'] in steps for entry in plan if entry['step'] is not None)
