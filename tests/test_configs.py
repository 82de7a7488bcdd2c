"""Every config file builds, runs through launch's flag parser, and plans a valid experiment."""

import importlib
import json
from pathlib import Path

import pytest
import tensorflow_datasets as tfds

from datadiet import experiment, jobs, models
from datadiet.stages import prune, registry
from datadiet.stages.context import Context

ANALYSES = ('offset_sweep', 'ccs_cutoff_sweep', 'error_barrier', 'ntk_velocity')

CONFIGS = sorted(p.stem for p in (Path(__file__).parents[1] / 'configs').glob('*.py')
                 if not p.stem.startswith('_'))  # _helpers are not configs.


@pytest.mark.parametrize('name', CONFIGS)
def test_config_is_consistent(name, tmp_path, write_image_folder, write_varied_image_folder):
  config = importlib.import_module(f'configs.{name}').get_config()
  assert config.job in jobs.JOBS
  models.get_model(config.model.name, num_classes=10)  # A registered model.
  assert 'launch.py --config configs/' + name in importlib.import_module(f'configs.{name}').__doc__
  if config.job != 'pipeline':
    return
  if config.runtime.input_pipeline == 'stream':  # Stand-in images of ImageNet's varied sizes.
    config.data.name = write_varied_image_folder(tmp_path / 'images', per_class=10)
    plan = prune.subset_plan(Context(config, tmp_path))
  elif config.data.name.startswith('image_folder:'):
    # A stand-in folder: the plan depends on the config, not on the images.
    write_image_folder(tmp_path / 'images', per_class=5)
    config.data.name = f'image_folder:{tmp_path / "images"}'
    plan = prune.subset_plan(Context(config, tmp_path))
  else:
    with tfds.testing.mock_data(num_examples=20):
      plan = prune.subset_plan(Context(config, tmp_path))
  assert plan and len({entry['name'] for entry in plan}) == len(plan)
  steps = set(config.scores.steps) | {config.optim.budget}
  assert all(entry['step'] in steps for entry in plan if entry['step'] is not None)


@pytest.mark.parametrize('name', ANALYSES)
@pytest.mark.parametrize('setting', ['cpu', 'paper'])
def test_analysis_configs_fit_cifar10(name, setting, tmp_path, write_image_folder):
  """Both settings of every analysis config pass its checks on CIFAR-10's 50,000 images."""
  config = importlib.import_module(f'configs.{name}').get_config(setting)
  assert name in config.stages and config.job == 'pipeline'
  if setting == 'paper':
    assert config.data.name == 'cifar10' and config.model.name == 'resnet18'
  else:
    assert config.data.name.startswith('image_folder:') and config.model.name == 'small_cnn'
    # A stand-in folder for the model checks (the class count); the sizes are CIFAR-10's.
    write_image_folder(tmp_path / 'images', per_class=5)
    config.data.name = f'image_folder:{tmp_path / "images"}'
  with tfds.testing.mock_data(num_examples=20):
    registry.STAGES[name].check(Context(config, workdir=None), num_train=50_000)


def _in_miniature(config, dataset):
  """The config's own models, scores and methods, on ``dataset``, with every step count scaled to
  a 4-step run (scoring steps keep their order; 0 stays the initialisation)."""
  steps = 4
  budget = config.optim.budget
  to_mini = lambda step: 0 if step == 0 else max(1, round(step * steps / budget))  # noqa: E731
  prune_by = config.prune.by[0]
  if '@' in prune_by:
    name, step = prune_by.split('@')
    prune_by = f'{name}@{to_mini(int(step))}'
  config.update_from_flattened_dict({
      'data.name': dataset, 'optim.budget_unit': 'steps', 'optim.budget': steps,
      'optim.batch_size': 8, 'runtime.eval_batch_size': 16, 'runtime.score_batch_size': 16,
      'runtime.log_every_steps': 2, 'runtime.tensorboard': False,
      'runtime.checkpoint_every_steps': 2 if config.runtime.checkpoint_every_steps else 0,
      'pretrain.seeds': config.pretrain.seeds[:1], 'retrain.seeds': config.retrain.seeds[:1],
      'scores.steps': tuple(sorted({to_mini(s) for s in config.scores.steps})),
      'prune.by': (prune_by,), 'prune.fractions': config.prune.fractions[:1]})
  # The analyses keep their α grid and noise levels, and their first two offsets (like the first
  # fraction above); their steps shrink like the run's and their example counts fit a 16-image
  # folder.
  config.analyses.offset_sweep.offsets = config.analyses.offset_sweep.offsets[:2]
  analyses = config.analyses
  analyses.error_barrier.spawn_steps = tuple(sorted(
      {to_mini(s) for s in analyses.error_barrier.spawn_steps} - {steps}))
  config.analyses.error_barrier.num_examples = 4
  config.analyses.ntk_velocity.checkpoint_steps = tuple(sorted(
      {to_mini(s) for s in config.analyses.ntk_velocity.checkpoint_steps}))
  config.analyses.ntk_velocity.block_size, config.analyses.ntk_velocity.num_blocks = 2, 3
  if config.data.image_size:  # ImageNet's 224² → 32², and its ResNet 16× narrower.
    config.data.image_size = 32
  if 'widths' in config.model.kwargs:
    config.model.kwargs.widths = tuple(w // 16 for w in config.model.kwargs.widths)
  return config


# One end-to-end run per path. Left out, with what covers them: base is cifar10_resnet18;
# cifar10_resnet50 and
# cifar100_resnet18 are cifar10_resnet18 with another model or class count (test_models builds
# ResNet50; compiling either on a CPU costs ~45 s for no new path); cifar10_resnet18_mini is
# cifar10_resnet18 in bfloat16 (its smoke setting runs in test_bench_gpu); offset_sweep,
# error_barrier and ntk_velocity are the stages digits_dynamics runs, and ccs_cutoff_sweep the one
# tests/stages runs on the digits, at CIFAR sizes that test_analysis_configs_fit_cifar10 checks;
# cifar10_airbench is a train job whose smoke setting runs through launch.py in test_bench_gpu,
# as do cifar10_figure1's (every stage, its 30 subsets, figure1.png) and
# cifar10_budget_sweep's (two budgets, one per launch, in one workdir).
COVERED_ELSEWHERE = ('base', 'train', 'cifar10_resnet50', 'cifar100_resnet18',
                     'cifar10_resnet18_mini', 'offset_sweep', 'ccs_cutoff_sweep', 'error_barrier',
                     'ntk_velocity', 'cifar10_airbench', 'cifar10_figure1', 'cifar10_budget_sweep')


@pytest.mark.parametrize('name', [n for n in CONFIGS if n not in COVERED_ELSEWHERE])
def test_config_runs_end_to_end_in_miniature(name, tmp_path, write_image_folder,
                                             write_varied_image_folder):
  config = importlib.import_module(f'configs.{name}').get_config()
  if config.runtime.input_pipeline == 'stream':  # Mock ImageNet: JPEGs of varied sizes.
    dataset = write_varied_image_folder(tmp_path / 'images', per_class=8)
  elif config.data.name.startswith('image_folder:'):
    write_image_folder(tmp_path / 'images', per_class=8)
    dataset = f'image_folder:{tmp_path / "images"}'
  else:
    dataset = config.data.name
  config = _in_miniature(config, dataset)
  with tfds.testing.mock_data(num_examples=24):
    ctx = experiment.run(config, tmp_path / 'run')
  assert sorted(p.stem for p in (tmp_path / 'run' / 'stages').glob('*.done')) == sorted(
      config.stages)
  for score in config.scores.names:
    assert list(ctx.scores_dir.glob(f'{score}@*.npz')), score
  for analysis in ANALYSES:
    assert (tmp_path / 'run' / f'{analysis}.json').exists() == (analysis in config.stages)
  if 'retrain' not in config.stages:
    return
  rows = json.loads((tmp_path / 'run' / 'results.json').read_text())
  expected = 1 + len(config.prune.methods) * len(config.prune.fractions)
  assert len(rows) == expected * len(config.retrain.seeds)
  assert all(r['model'] == (config.retrain.model or config.model.name) for r in rows)


def test_budget_sweep_config_fits_cifar10(tmp_path, write_image_folder):
  """The GPU setting's sweep passes its checks at CIFAR-10's 50,000 images: its shortest budget
  (2.5 epochs, 122 steps) holds lookahead's cadence, every band fits the pool."""
  config = importlib.import_module('configs.cifar10_budget_sweep').get_config()
  write_image_folder(tmp_path / 'images', per_class=5)  # For the class count only.
  config.data.name = f'image_folder:{tmp_path / "images"}'
  registry.STAGES['budget_sweep'].check(Context(config, workdir=None), num_train=50_000)
  config.analyses.budget_sweep.budgets = (0.05,)  # 2 steps: shorter than lookahead's 5.
  with pytest.raises(ValueError, match=r'lookahead.every_steps 5 exceeds the run\'s 2 steps'):
    registry.STAGES['budget_sweep'].check(Context(config, workdir=None), num_train=50_000)
