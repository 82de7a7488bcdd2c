"""The stage registry: one protocol (check, run, reads, outputs) that preflight, the pipeline,
the workdir binding and the run digest all iterate."""

import json

import pytest

from configs import base, default
from datadiet import errors, experiment, jobs, preflight, run_digest
from datadiet import workdir as workdirs
from datadiet.registries import Registry
from datadiet.stages import registry
from datadiet.stages.protocol import Stage


def _fields(config: dict) -> set[str]:
  return set(workdirs.flatten(config))


def test_stages_in_pipeline_order_reading_blocks_of_the_base_config():
  assert list(registry.STAGES) == ['pretrain', 'score', 'prune', 'retrain', 'offset_sweep',
                                   'ccs_cutoff_sweep', 'budget_sweep', 'error_barrier',
                                   'ntk_velocity', 'report']
  fields = _fields(json.loads(base.get_config().to_json()))
  for stage in registry.STAGES.values():
    for block in stage.reads:
      assert any(f == block or f.startswith(f'{block}.') for f in fields), (stage.name, block)
      assert not block.startswith('runtime'), stage.name  # How a run executes binds nothing.


def test_reads_only_what_the_configured_stages_read():
  pipeline = json.loads(default.get_config().to_json())
  assert registry.reads(pipeline) == {'job', 'stages', 'data', 'model', 'optim', 'pretrain',
                                      'scores', 'prune', 'retrain', 'retrain.seeds'}
  pipeline['stages'] = ['pretrain', 'score', 'error_barrier', 'report']
  assert registry.reads(pipeline) == {'job', 'stages', 'data', 'model', 'optim', 'pretrain',
                                      'scores', 'analyses.error_barrier'}
  assert registry.reads({'job': 'train'}) == {'job', 'data', 'model', 'optim', 'pretrain'}


def test_changed_fields_compare_only_blocks_both_runs_read():
  old = json.loads(default.get_config().to_json())
  new = json.loads(default.get_config().to_json())
  new['analyses']['ntk_velocity']['block_size'] = 7  # Not a configured stage.
  new['runtime']['log_every_steps'] = 1
  assert workdirs.changed_fields(old, new, registry.reads) == []
  new['prune']['kwargs']['offset']['fraction'] = 0.3
  new['optim']['learning_rate'] = 0.2
  assert workdirs.changed_fields(old, new, registry.reads) == [
      'optim.learning_rate', 'prune.kwargs.offset.fraction']


def test_the_digest_reads_every_declared_output():
  patterns = run_digest.result_patterns()
  for stage in registry.STAGES.values():
    for pattern in stage.outputs:
      assert pattern in patterns and f'label_noise_*/{pattern}' in patterns


def test_a_new_stage_is_checked_run_and_digested_through_its_registration(tmp_path, monkeypatch):
  """What adding a stage takes: its module (here, two functions), one registration, a test."""
  def check(ctx, num_train):
    if ctx.config.optim.budget > num_train:
      raise errors.InputError('histogram: the budget exceeds the training set.')

  def run(ctx):
    (ctx.workdir / 'histogram.json').write_text(json.dumps(len(ctx.data.train['label'])))

  stages = Registry('stage', 'stages')
  for stage in registry.STAGES.values():
    stages.register(stage)
  stages.register(Stage('histogram', run, reads=('data',), check=check,
                        outputs=('histogram.json',)))
  monkeypatch.setattr(registry, 'STAGES', stages)
  config = default.get_config()
  config.stages = ('histogram',)
  config.optim.budget = 10_000  # More than the 1,438 digits: the stage's own check refuses it.
  with pytest.raises(errors.InputError, match='histogram: the budget exceeds'):
    preflight.check(config)
  config.optim.budget = 300
  jobs.run(config, tmp_path)
  assert json.loads((tmp_path / 'histogram.json').read_text()) == 1438
  assert list(run_digest.digest(tmp_path)) == ['histogram.json']
  assert registry.reads(json.loads(config.to_json())) == {'job', 'stages', 'data'}
  assert [s.name for s in registry.configured(config.stages)] == ['histogram']
  before = (tmp_path / 'histogram.json').stat().st_mtime_ns
  experiment.run(config, tmp_path)  # Done: a relaunch skips it.
  assert (tmp_path / 'histogram.json').stat().st_mtime_ns == before
