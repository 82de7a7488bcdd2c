"""Every kind of bad input gets one clear error, before anything in the workdir changes.

A finished run's workdir is the target: each bad config is launched into it (told to continue
with a changed config, so that the refusal comes from the check of the input itself) and must
leave every file as it was. Damaged score files and checkpoints are tested on copies of it.
"""

import errno
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from configs import default as pipeline_config
from configs import train as train_config
from datadiet import errors, jobs

ROOT = Path(__file__).resolve().parents[1]


def _tiny(overrides=None):
  config = pipeline_config.get_config()
  config.update_from_flattened_dict({
      'pretrain.seeds': (0, 1), 'optim.budget': 30, 'scores.steps': (0, 10),
      'scores.names': ('el2n', 'random'), 'prune.by': ('el2n',),
      'prune.methods': ('keep_hardest', 'offset', 'random'), 'prune.fractions': (0.5,),
      'retrain.seeds': (100,), 'runtime.tensorboard': False, 'runtime.log_every_steps': 10})
  config.analyses.error_barrier.spawn_steps = (0, 10)
  config.analyses.ntk_velocity.checkpoint_steps = (0, 10, 30)
  config.update_from_flattened_dict(overrides or {})
  return config


def _snapshot(workdir):
  # Every file but the lock, which names the process running in the workdir, not a result.
  return {str(p.relative_to(workdir)): (p.stat().st_mtime_ns, p.stat().st_size)
          for p in workdir.rglob('*') if p.is_file() and p.name != '.lock'}


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('finished')
  jobs.run(_tiny(), workdir)
  return workdir


def _image_folder(root, classes, images=True):
  for split in ('train', 'test'):
    for name in classes:
      (root / split / name).mkdir(parents=True)
      if images:
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / split / name / '0.png')
  return f'image_folder:{root}'


CONFIG_CASES = {
    'unknown dataset': ({'data.name': 'cifar_ten'},
                        r"Unknown dataset 'cifar_ten'; valid forms: digits, image_folder:<path>"),
    'unknown model': ({'model.name': 'resnet19'}, r"Unknown model 'resnet19'; valid models: .*mlp"),
    'unknown retrain model': ({'retrain.model': 'vit'}, r"Unknown model 'vit'"),
    'unknown score': ({'scores.names': ('el2n', 'grandd')},
                      r"Unknown scores \['grandd'\]; valid scores: el2n, l1_error"),
    'unknown pruning method': ({'prune.methods': ('easiest',)},
                               r"Unknown pruning methods \['easiest'\]; valid methods: "
                               r'keep_hardest, offset'),
    'unknown stage': ({'stages': ('pretrain', 'scoring')},
                      r"Unknown stages \['scoring'\]; valid stages: pretrain, score, prune"),
    'fraction pruned of 1': ({'prune.fractions': (0.5, 1.0)},
                             r'fraction_pruned must be a number in \[0, 1\), got 1.0'),
    'negative fraction': ({'prune.fractions': (-0.1,)},
                          r'fraction_pruned must be a number in \[0, 1\), got -0.1'),
    'empty subset': ({'prune.fractions': (0.9999,)}, r'Pruning 0.9999 of 1438 examples keeps none'),
    'offset + size beyond the dataset': (
        {'prune.kwargs.offset.fraction': 0.6},
        r'skipping the 863 hardest .* needs 1582 examples, but the dataset has 1438; lower '
        r'prune.kwargs.offset.fraction below 0.5'),
    'pruning by a score never computed': (
        {'prune.by': ('loss',)}, r'prunes by loss at step 10, which this run does not compute; '
        r'computed: el2n@0, el2n@10, random@0'),
    'pruning by an unscored model': ({'prune.by': ('small_cnn:el2n',)},
                                     r"names model 'small_cnn', which is not scored"),
    'label noise of 1.5': ({'data.label_noise_fraction': 1.5},
                           r'label_noise_fraction must be in \[0, 1\), got 1.5'),
    'negative label noise': ({'data.label_noise_fraction': -0.2},
                             r'label_noise_fraction must be in \[0, 1\), got -0.2'),
    'unknown schedule': ({'optim.schedule': 'step'},
                         r"Unknown schedule 'step'; valid: piecewise"),
    'no retraining seeds': ({'retrain.seeds': ()}, r'config.retrain.seeds is empty'),
    'lookahead beyond the run': ({'optim.lookahead.every_steps': 1000},
                                 r"lookahead.every_steps 1000 exceeds the run's 30 steps: the "
                                 r'slow copy would never move'),
    'alternating flip without the crop': ({'data.flip': 'alternating'},
                                          r"config.data.augment is 'none': set "
                                          r'--config.data.augment=pad_crop_flip'),
    'unknown test-time augmentation': ({'data.test_augment': 'tta'},
                                       r'test_augment must be one of none, flip, flip_translate'),
    'label smoothing of 1': ({'optim.label_smoothing': 1.0},
                             r'label_smoothing must be in \[0, 1\) \(airbench: 0.2\), got 1.0'),
    'airbench on 8×8 digits': ({'model.name': 'airbench'},
                               r'airbench needs images of at least 9×9 pixels'),
    'image_folder path missing': ({'data.name': 'image_folder:/no/such/dir'},
                                  r"image_folder: no directory at '/no/such/dir'"),
    'offset window past the end': (
        {'stages': ('pretrain', 'score', 'offset_sweep'),
         'analyses.offset_sweep.offsets': (0.0, 0.7)},
        r'offset_sweep: offset 0.7 \+ fraction_kept 0.4 runs past the 1294 examples outside the '
        r'validation split; offsets must be in \[0, 0.6\]'),
    'CCS sweep rate with no room for any β': (
        {'stages': ('pretrain', 'score', 'ccs_cutoff_sweep'),
         'analyses.ccs_cutoff_sweep.fractions_pruned': (0.2, 0.9),
         'analyses.ccs_cutoff_sweep.hard_cutoffs': (0.3, 0.5)},
        r'ccs_cutoff_sweep: at pruning rate 0.2 no hard_cutoff leaves its 1035 kept examples in '
        r'the 1294 outside the validation split; add a β below 0.2 \(e.g. 0\) to hard_cutoffs'),
    'CCS sweep β of 1': (
        {'stages': ('ccs_cutoff_sweep',), 'analyses.ccs_cutoff_sweep.hard_cutoffs': (0.0, 1.0)},
        r'ccs_cutoff_sweep.hard_cutoffs must be fractions in \[0, 1\), got 1.0'),
    'CCS sweep rate given twice': (
        {'stages': ('ccs_cutoff_sweep',), 'analyses.ccs_cutoff_sweep.fractions_pruned': (0.5, 0.5)},
        r'ccs_cutoff_sweep.fractions_pruned must list distinct values \(at least one\), got '
        r'\(0.5, 0.5\)'),
    'CCS sweep by a score never computed': (
        {'stages': ('pretrain', 'score', 'ccs_cutoff_sweep')},
        r'ccs_cutoff_sweep stratifies aum at step 10, which this run does not compute.*'
        r"Add 'aum' to config.scores.names"),
    'validation split of no example': (
        {'stages': ('ccs_cutoff_sweep',), 'analyses.ccs_cutoff_sweep.validation_fraction': 3e-4},
        r'ccs_cutoff_sweep.validation_fraction 0.0003 holds out 0 of the 1438 training examples; '
        r'give a fraction that holds out at least one'),
    'validation split of everything': (
        {'stages': ('offset_sweep',), 'analyses.offset_sweep.validation_fraction': 1.0},
        r'offset_sweep.validation_fraction must be in \(0, 1\), got 1.0'),
    'noise level out of range': (
        {'stages': ('offset_sweep',), 'analyses.offset_sweep.label_noise_fractions': (0.0, 1.2)},
        r'label_noise_fraction must be in \[0, 1\), got 1.2'),
    'spawn step beyond the budget': (
        {'stages': ('error_barrier',), 'analyses.error_barrier.spawn_steps': (0, 30)},
        r'error_barrier.spawn_steps \[0, 30\] must be non-empty and in \[0, 30\)'),
    'α grid without both networks': (
        {'stages': ('error_barrier',), 'analyses.error_barrier.alphas': (0.25, 0.5, 1.0)},
        r'error_barrier.alphas: The α grid must include 0 and 1'),
    'more NTK blocks than examples': (
        {'stages': ('ntk_velocity',), 'analyses.ntk_velocity.block_size': 100,
         'analyses.ntk_velocity.num_blocks': 20},
        r'20 blocks of 100 examples need 2000, but the training set has 1438'),
    'NTK checkpoint past the run': (
        {'stages': ('ntk_velocity',), 'analyses.ntk_velocity.checkpoint_steps': (0, 10, 300)},
        r"config.analyses.ntk_velocity.checkpoint_steps \[300\] lie outside the run's 30 steps"),
    'CCS cut by a score the run does not compute': (
        {'prune.methods': ('ccs',), 'prune.kwargs.ccs.cutoff_score': 'aum'},
        r'Subset ccs-el2n@10-p0.5 \(prune.kwargs.ccs.cutoff_score\) reads aum at step 10, which '
        r'this run does not compute'),
    'CCS β that cuts more than the rate leaves': (
        {'prune.methods': ('ccs',), 'prune.kwargs.ccs.hard_cutoffs': ((0.5, 0.6),)},
        r'cutting the 863 hardest \(CCS β 0.6\) and keeping 719 needs 1582 examples'),
    'CCS with two β for one pruning rate': (
        {'prune.methods': ('ccs',), 'prune.kwargs.ccs.hard_cutoffs': ((0.5, 0.1), (0.5, 0.2))},
        r'hard_cutoffs gives pruning rate\(s\) \[0.5\] more than one β; give each rate once'),
    'a training-time score added to a pretraining under way': (
        {'scores.names': ('el2n', 'random', 'aum')},
        r"records the training-time statistics none for its checkpoints, but "
        r"config.scores.names now needs \['aum'\] \(added \['aum'\], removed \[\]\); a "
        r'training-time score cannot be added'),
    'pruning by a training-time score at a scoring step': (  # A bare 'aum' means aum@30.
        {'scores.names': ('el2n', 'random', 'aum'), 'prune.by': ('aum@10',)},
        r'prunes by aum at step 10, which this run does not compute; .* aum is computed at step '
        r'30: write aum@30\.'),
    'unknown NTK method': ({'stages': ('ntk_velocity',), 'analyses.ntk_velocity.method': 'exact'},
                           r"Unknown ntk_velocity.method 'exact'; valid: auto, per_example"),
    'zero batch size': ({'optim.batch_size': 0},
                        r'config.optim.batch_size must be a positive number, got 0'),
    'zero evaluation batch': ({'runtime.eval_batch_size': 0},
                              r'config.runtime.eval_batch_size must be a positive number, got 0'),
    'zero scoring batch': ({'runtime.score_batch_size': 0},
                           r'config.runtime.score_batch_size must be a positive number, got 0'),
    # Padded on the host: the kernel killed such a run minutes in, with no message.
    'scoring batch beyond host memory': (
        {'runtime.score_batch_size': 2**40},
        r'config.runtime.score_batch_size 1,099,511,627,776 pads every batch to that many '
        r"examples: .* GiB of host arrays, more than this host's .* GiB; use at most \d"),
    'evaluation batch beyond host memory': (
        {'runtime.eval_batch_size': 2**40}, r'config.runtime.eval_batch_size 1,099,511,627,776'),
    'negative budget': ({'optim.budget': -3},
                        r'config.optim.budget must be a positive number, got -3'),
    'repeated seeds': ({'pretrain.seeds': (0, 0)},
                       r'config.pretrain.seeds repeats \[0\]: equal seeds train '
                       r'identical models'),
    'repeated retraining seeds': ({'retrain.seeds': (100, 100)},
                                  r'config.retrain.seeds repeats \[100\]'),
    'negative seed': ({'pretrain.seeds': (0, -1)},
                      r'config.pretrain.seeds holds \[-1\]; seeds are integers'),
    'score step beyond the budget': (
        {'scores.steps': (0, 1000)}, r'config.scores.steps \[1000\] lie beyond the run\'s 30 '
        r'steps \(budget 30 steps\)'),
    'no score steps': ({'scores.steps': ()}, r'config.scores.steps must be a non-empty tuple'),
    'CCS without strata': ({'prune.methods': ('ccs',), 'prune.kwargs.ccs.num_strata': 0},
                           r'config.prune.kwargs.ccs.num_strata must be an integer >= 1, got 0'),
    'negative offset fraction': ({'prune.kwargs.offset.fraction': -0.1},
                                 r'config.prune.kwargs.offset.fraction must be in \[0, 1\), '
                                 r'got -0.1'),
    'CCS cutoff of everything': ({'prune.kwargs.ccs.hard_cutoff': 1.0, 'prune.methods': ('ccs',)},
                                 r'config.prune.kwargs.ccs.hard_cutoff must be in \[0, 1\), '
                                 r'got 1.0'),
    'unparsable prune_by': ({'prune.by': ('el2n@abc',)},
                            r"prune_by entry 'el2n@abc' is not of the form <score>, "
                            r'<score>@<step>'),
    'float16 compute': ({'model.compute_dtype': 'float16'},
                        r"config.model.compute_dtype: Unknown compute dtype 'float16'; valid: "
                        r'float32, bfloat16'),
    'unknown input path': ({'runtime.input_pipeline': 'gpu'},
                           r"Unknown input_pipeline 'gpu'; valid: auto, device, tf_data"),
    'unknown stream workers': ({'runtime.stream_workers': 'gpu'},
                               r"config.runtime.stream_workers='gpu' is not one of auto, "
                               r'threads, processes'),
    'stream readers off the stream path': ({'runtime.stream_workers': 'processes'},
                                           r"stream_workers and stream_readers set how the "
                                           r"stream path reads, but config.runtime.input_pipeline"
                                           r" is 'auto': add --config.runtime.input_pipeline="
                                           r'stream'),
    'negative stream readers': ({'runtime.stream_readers': -1},
                                r'config.runtime.stream_readers must be an integer >= 0, got -1'),
    'device share above 1': ({'runtime.device_data_max_fraction': 5.0},
                             r'device_data_max_fraction must be in \(0, 1\], got 5.0'),
    'logging every 0 steps': ({'runtime.log_every_steps': 0},
                              r'config.runtime.log_every_steps must be a positive number, got 0'),
    'negative data seed': ({'data.order_seed': -1},
                           r'config.data.order_seed must be an integer >= 0'),
    'negative checkpoint cadence': ({'runtime.checkpoint_every_steps': -5},
                                    r'config.runtime.checkpoint_every_steps must be an integer '
                                    r'>= 0'),
    'checkpoint beyond the budget': ({'runtime.checkpoint_steps': (50,)},
                                     r"config.runtime.checkpoint_steps \[50\] lie outside the "
                                     r"run's 30 steps"),
    'NaN learning rate': ({'optim.learning_rate': float('nan')},
                          r'config.optim.learning_rate must be a positive finite number, got nan'),
    'momentum of 2': ({'optim.momentum': 2.0},
                      r'config.optim.momentum must be in \[0, 1\), got 2.0'),
    'negative weight decay': ({'optim.weight_decay': -1.0},
                              r'config.optim.weight_decay must be >= 0'),
    'decay after the run': ({'optim.lr_decay_fractions': (1.5,)},
                            r'config.optim.lr_decay_fractions must be increasing fractions of '
                            r'the run in \(0, 1\)'),
    'no scores': ({'scores.names': ()}, r'config.scores.names is empty; name at least one score'),
    'a score step twice': ({'scores.steps': (10, 10)}, r'config.scores.steps repeats a step'),
    'retraining from a scoring seed': ({'retrain.seeds': (1, 100)},
                                       r'config.retrain.seeds shares \[1\] with '
                                       r'config.pretrain.seeds'),
    'offset sweep keeping nothing': (
        {'stages': ('offset_sweep',), 'analyses.offset_sweep.fraction_kept': 0.0},
        r'offset_sweep.fraction_kept must be in \(0, 1\], got 0.0'),
    'analysis by a score never computed': (
        {'stages': ('ntk_velocity',), 'analyses.ntk_velocity.score': 'grand'},
        r'config.analyses.ntk_velocity ranks by grand at step 10, which this run does not compute; '
        r'computed: el2n@0, el2n@10, random@0'),
}


@pytest.mark.parametrize('case', CONFIG_CASES)
def test_bad_config_is_refused_before_touching_the_workdir(case, finished):
  overrides, message = CONFIG_CASES[case]
  before = _snapshot(finished)
  with pytest.raises(errors.InputError, match=message):
    jobs.run(_tiny(overrides), finished, continue_with_changed_config=True)
  assert _snapshot(finished) == before


@pytest.mark.parametrize('classes, images, damage, message', [
    (('cat', 'dog'), False, None, r'has no images in train/<class>/ \(looked for .jpg, .jpeg'),
    (('cat',), True, None, r'has 1 class; need at least 2'),
    (('cat', 'dog'), True, 'truncated', r'cannot decode .*train/dog/1.png \(.*\); replace it '
     r'with a readable copy'),
    (('cat', 'dog'), True, 'other size', r'train/dog/1.png is 5×5 but the most common size in .* '
     r'is 4×4 \(2 sizes in all\); set config.data.image_size'),
    (('cat', 'dog'), True, 'unseen class', r"has test images of classes with no training images: "
     r"\['fox'\]"),
    (('cat', 'dog'), True, 'test size', r'the test images of .* are 6×6×3 \(e.g. '
     r'.*test/cat/0.png\) but the training images are 4×4×3'),
])
def test_bad_image_folder(classes, images, damage, message, tmp_path, finished):
  dataset = _image_folder(tmp_path / 'images', classes, images)
  for name in classes:  # A second image per class, so that one size is the common one.
    if images:
      Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / 'images' / 'train' / name /
                                                          '2.png')
  odd = tmp_path / 'images' / 'train' / 'dog' / '1.png'
  if damage == 'truncated':
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(odd)
    odd.write_bytes(odd.read_bytes()[:40])
  elif damage == 'other size':
    Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(odd)
  elif damage == 'test size':
    for name in classes:
      Image.fromarray(np.zeros((6, 6, 3), np.uint8)).save(tmp_path / 'images' / 'test' / name /
                                                          '0.png')
  elif damage == 'unseen class':
    (tmp_path / 'images' / 'test' / 'fox').mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / 'images' / 'test' / 'fox' /
                                                        '0.png')
  before = _snapshot(finished)
  with pytest.raises(errors.InputError, match=message):
    jobs.run(_tiny({'data.name': dataset}), finished, continue_with_changed_config=True)
  assert _snapshot(finished) == before


def _damaged_copy(finished, tmp_path, redo):
  """A copy of the finished run with the stages from ``redo`` on marked unfinished."""
  workdir = tmp_path / 'copy'
  shutil.copytree(finished, workdir)
  stages = ['pretrain', 'score', 'prune', 'retrain', 'report']
  for stage in stages[stages.index(redo):]:
    (workdir / 'stages' / f'{stage}.done').unlink()
  return workdir


def _rewrite_scores(path, **changes):
  with np.load(path) as saved:
    arrays = dict(saved)
  arrays.update(changes)
  with open(path, 'wb') as f:
    np.savez(f, **arrays)


@pytest.mark.parametrize('damage, message', [
    ('other dataset', r"holds scores for dataset 'cifar10', not 'digits'"),
    ('other step', r'holds scores for step 0, not 10: it belongs to another run'),
    ('other seeds', r'holds scores for seeds \[0, 1, 2\], not \[0, 1\]'),
    ('missing ids', r'does not match the dataset: 5 of its 1438 examples have no score'),
    ('duplicate ids', r'lists 1 example ids more than once'),
    ('non-finite scores', r'holds non-finite scores; delete it to recompute it'),
    ('truncated file', r'is not a valid score file'),
])
def test_score_file_that_does_not_match_the_dataset(damage, message, finished, tmp_path):
  workdir = _damaged_copy(finished, tmp_path, redo='prune')
  path = workdir / 'scores' / 'el2n@10.npz'
  with np.load(path) as saved:
    ids, per_seed, metadata = saved['ids'], saved['per_seed'], str(saved['metadata'])
  if damage == 'other dataset':
    _rewrite_scores(path, metadata=np.array(metadata.replace('"digits"', '"cifar10"')))
  elif damage == 'other step':  # A step-0 file saved under el2n@10's name.
    _rewrite_scores(path, metadata=np.array(metadata.replace('"step": 10', '"step": 0')))
  elif damage == 'other seeds':
    _rewrite_scores(path, metadata=np.array(metadata.replace('"seeds": [0, 1]',
                                                             '"seeds": [0, 1, 2]')))
  elif damage == 'non-finite scores':
    _rewrite_scores(path, per_seed=np.where(np.arange(per_seed.shape[1]) == 3, np.nan, per_seed))
  elif damage == 'truncated file':
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
  elif damage == 'missing ids':
    _rewrite_scores(path, ids=ids[:-5], per_seed=per_seed[:, :-5], score=per_seed[:, :-5].mean(0))
  else:
    _rewrite_scores(path, ids=np.concatenate([ids[:-1], ids[:1]]))
  for subset in (workdir / 'subsets').glob('*el2n*'):
    subset.unlink()  # As if pruning had stopped before these.
  before = _snapshot(workdir)
  with pytest.raises(errors.InputError, match=message):
    jobs.run(_tiny(), workdir)
  assert _snapshot(workdir) == before


def _checkpoint_files(step_dir):
  return sorted((p for p in step_dir.rglob('*') if p.is_file()), key=lambda p: -p.stat().st_size)


@pytest.mark.parametrize('damage', ['truncated', 'corrupted', 'deleted'])
def test_damaged_checkpoint_is_one_line_and_the_fix_it_names_works(damage, finished, tmp_path):
  workdir = _damaged_copy(finished, tmp_path, redo='score')
  (workdir / 'scores' / 'el2n@10.npz').unlink()  # Scoring step 10 must restore its checkpoint.
  step_dir = workdir / 'pretrain' / 'checkpoints' / '10'
  if damage == 'deleted':  # Removed to save disk, say: nothing to report, it is re-created.
    shutil.rmtree(step_dir)
  else:
    for path in _checkpoint_files(step_dir)[:3]:  # The array data, not just metadata.
      data = path.read_bytes()
      path.write_bytes(data[:len(data) // 2] if damage == 'truncated' else bytes(len(data)))
    before = _snapshot(workdir)
    with pytest.raises(errors.InputError) as raised:
      jobs.run(_tiny(), workdir)
    message = str(raised.value)
    assert re.match(r'Checkpoint for step 10 in .* cannot be read; it is corrupted or truncated',
                    message)
    assert '\n' not in message and len(message) < 700, message
    assert _snapshot(workdir) == before
    source, target = re.search(r'\(mv (\S+) (\S+)\)', message).groups()
    shutil.move(source, target)  # The fix, as the message words it.
  jobs.run(_tiny(), workdir)
  # Training again from step 0 re-created step 10 exactly, and logged each row once.
  with np.load(finished / 'scores' / 'el2n@10.npz') as want, \
       np.load(workdir / 'scores' / 'el2n@10.npz') as got:
    np.testing.assert_allclose(got['per_seed'], want['per_seed'], rtol=1e-5)
  assert _metric_values(workdir / 'pretrain' / 'metrics.jsonl') == \
      _metric_values(finished / 'pretrain' / 'metrics.jsonl')
  assert (workdir / 'pretrain' / 'checkpoints' / '10').is_dir()


def test_damaged_checkpoint_through_launch_is_the_only_line(finished, tmp_path):
  workdir = _damaged_copy(finished, tmp_path, redo='score')
  (workdir / 'scores' / 'el2n@10.npz').unlink()
  # A garbled OCDBT manifest: the damage that made TensorStore's threads print at exit.
  (workdir / 'pretrain' / 'checkpoints' / '10' / 'default' / 'manifest.ocdbt').write_text(
      'garbage\n')
  overrides = ["--config.pretrain.seeds=(0,1)", '--config.optim.budget=30',
               "--config.scores.steps=(0,10)",
               "--config.scores.names=('el2n','random')", "--config.prune.by=('el2n',)",
               "--config.prune.methods=('keep_hardest','offset','random')",
               "--config.prune.fractions=(0.5,)", "--config.retrain.seeds=(100,)",
               '--config.runtime.tensorboard=False', '--config.runtime.log_every_steps=10',
               "--config.analyses.error_barrier.spawn_steps=(0,10)",
               "--config.analyses.ntk_velocity.checkpoint_steps=(0,10,30)"]
  result = _launch('--config', 'configs/default.py', '--workdir', str(workdir), *overrides)
  assert result.returncode == 1
  # Orbax/TensorStore threads used to print "Event loop is closed" tracebacks at exit.
  assert 'Traceback' not in result.stderr, result.stderr[-2000:]
  assert result.stderr.strip().splitlines()[-1].startswith('datadiet: CheckpointError: ')


def _metric_values(path):
  """Rows without their timings: the values a rerun must reproduce."""
  return [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()
           if k != 'images_per_s'} for row in map(json.loads, path.open())]


def _metric_keys(path):
  return [(r['step'], r['split'], r['seed']) for r in map(json.loads, path.open())]


def test_changed_config_with_a_new_score_step_reopens_pretraining(finished, tmp_path):
  workdir = tmp_path / 'copy'
  shutil.copytree(finished, workdir)
  before = _snapshot(workdir)
  config = _tiny({'scores.steps': (0, 10, 20), 'prune.by': ('el2n@10', 'el2n@20')})
  jobs.run(config, workdir, continue_with_changed_config=True)
  # Pretraining went on from step 10 to the new step 20; scoring, pruning and retraining added
  # what the new step asks for; nothing that was there changed.
  assert (workdir / 'pretrain' / 'checkpoints' / '20').is_dir()
  assert (workdir / 'scores' / 'el2n@20.npz').exists()
  assert (workdir / 'retrain' / 'keep_hardest-el2n@20-p0.5' / 'result.json').exists()
  after = _snapshot(workdir)
  changed = sorted(k for k, v in before.items() if after.get(k) != v)
  # Only the report (redrawn with the new rows), the stage markers and the pretraining log moved.
  assert not [k for k in changed if k.startswith(('scores/', 'subsets/', 'retrain/',
                                                  'pretrain/checkpoints/'))], changed
  keys = _metric_keys(workdir / 'pretrain' / 'metrics.jsonl')
  assert len(keys) == len(set(keys))
  assert keys[:len(_metric_keys(finished / 'pretrain' / 'metrics.jsonl'))] == \
      _metric_keys(finished / 'pretrain' / 'metrics.jsonl')
  assert max(step for step, _, _ in keys) == 20
  assert 'keep_hardest-el2n@20-p0.5' in (workdir / 'summary.md').read_text()


def test_final_evaluation_is_logged_by_the_relaunch_if_the_run_stopped_before_it(finished,
                                                                                 tmp_path):
  workdir = _damaged_copy(finished, tmp_path, redo='retrain')
  run_dir = workdir / 'retrain' / 'full'
  (run_dir / 'result.json').unlink()
  metrics = run_dir / 'metrics.jsonl'
  rows = metrics.read_text().splitlines(keepends=True)
  metrics.write_text(''.join(r for r in rows if json.loads(r)['split'] != 'test'))  # Killed.
  jobs.run(_tiny(), workdir)
  assert _metric_values(metrics) == _metric_values(finished / 'retrain' / 'full' /
                                                   'metrics.jsonl')


def test_final_pretraining_evaluation_is_logged_by_the_relaunch_if_it_was_cut_off(finished,
                                                                                   tmp_path):
  # Every checkpoint was saved, then the run died evaluating (killed, or out of memory): the
  # relaunch trained nothing, so the final evaluation was never logged.
  workdir = _damaged_copy(finished, tmp_path, redo='pretrain')
  metrics = workdir / 'pretrain' / 'metrics.jsonl'
  rows = metrics.read_text().splitlines(keepends=True)
  last = max(json.loads(r)['step'] for r in rows)
  metrics.write_text(''.join(r for r in rows if (json.loads(r)['split'], json.loads(r)['step'])
                             != ('test', last)))
  checkpoints_before = _snapshot(workdir / 'pretrain' / 'checkpoints')
  jobs.run(_tiny(), workdir)
  assert _metric_values(metrics) == _metric_values(finished / 'pretrain' / 'metrics.jsonl')
  assert _snapshot(workdir / 'pretrain' / 'checkpoints') == checkpoints_before  # Not retrained.


def _launch(*args, env=None, cwd=None):
  """launch.py as a user runs it (from ``cwd``, the repository root by default)."""
  return subprocess.run([sys.executable, str(ROOT / 'launch.py'), *args], cwd=cwd or ROOT,
                        capture_output=True, text=True, env=env)


def test_launch_exits_non_zero_with_one_line_and_no_traceback(tmp_path):
  result = _launch('--config', 'configs/default.py', '--workdir', str(tmp_path / 'run'),
                   '--config.model.name=resnet19')
  assert result.returncode == 1
  assert result.stderr.count("Unknown model 'resnet19'") == 1  # Said once, not logged as well.
  assert "datadiet: InputError: Unknown model 'resnet19'; valid models:" in result.stderr
  assert 'Traceback' not in result.stderr
  assert not (tmp_path / 'run').exists()  # Refused before the workdir was made.


@pytest.mark.parametrize('args, message', [
    (('--config', 'configs/default.py', '--config.optim.budgte=2'),
     'datadiet: config: --config.optim.budgte is not a field; did you mean --config.optim.budget? '
     '(every field is in configs/base.py).'),
    # A field named without its block, and a block given a value.
    (('--config', 'configs/default.py', '--config.budget=60'),
     'datadiet: config: --config.budget is not a field; did you mean --config.optim.budget? '
     '(every field is in configs/base.py).'),
    (('--config', 'configs/default.py', '--config.seeds=(0,1)'),
     'datadiet: config: --config.seeds is not a field; did you mean --config.pretrain.seeds or '
     '--config.retrain.seeds?'),
    (('--config', 'configs/default.py', '--config.model=resnet18'),
     'datadiet: config: --config.model is a block of fields (compute_dtype, name): override '
     'one, e.g. --config.model.name=resnet18'),
    (('--config', 'configs/default.py', '--config.offset_sweep.offsets=(0.1,)'),
     'datadiet: config: --config.offset_sweep.offsets is not a field; did you mean '
     '--config.analyses.offset_sweep.offsets?'),
    (('--config', 'configs/default.py', '--config.model.kwargs.widths=(8,16)'),
     'datadiet: config: --config.model.kwargs.widths: this config gives the model no such '
     'keyword argument; give them all as one dict, e.g. --config.model.kwargs="{\'widths\': '
     '(8, 16)}", or set config.model.kwargs in a config file.'),
    (('--config', 'configs/default.py', '--config.prune.kwargs.keep_hardest.fraction=0.1'),
     'datadiet: config: --config.prune.kwargs.keep_hardest.fraction: the keep_hardest method '
     'takes no options; methods with options: offset, ccs, random'),
    (('--config', 'configs/default.py', '--config.prune.kwargs.offset.fractoin=0.1'),
     'datadiet: config: --config.prune.kwargs.offset.fractoin: the offset method takes no such '
     'option; its options: fraction, offset_from.'),
    (('--config', 'configs/train.py', '--config.optim.budget=abc'),
     "datadiet: config: flag --config.optim.budget=abc: invalid literal for int() with base 10: "
     "'abc'; config.optim.budget is an int (now 10), e.g. --config.optim.budget=10."),
    (('--config', 'configs/cifar10_cpu.py', '--config.runtime.stream_readers=1.5'),
     "'1.5'; config.runtime.stream_readers is an int (now 0), e.g. "
     "--config.runtime.stream_readers=0."),
    (('--config', 'configs/no_such_config.py'),
     'no config file configs/no_such_config.py. Configs in configs/: base.py, '),
    (('--config', 'configs/default.py', '--config.pretrain.seeds=4'),
     "--config.pretrain.seeds=4 would be the one seed (4,), not 4 seeds: write "
     "--config.pretrain.seeds='(0, 1, 2, 3)' for 4 seeds, or --config.pretrain.seeds='(4,)' "
     "for the seed 4 alone."),
    (('--config', 'configs/default.py', '--config.retrain.seeds', '2'),
     "--config.retrain.seeds 2 would be the one seed (2,), not 2 seeds"),
    (('--config', 'configs/default.py', "--config.pretrain.seeds=(0,1)", '--config.optim.budget',
      '30', '--config.pretrain.seeds', '(5,)'),
     "--config.pretrain.seeds is given twice ('(0,1)', then '(5,)'); give it once (the values "
     "of a repeated tuple field would be joined, not replaced)."),
    (('--config', 'configs/default.py', '--config.optim.budget=30', '--config.optim.budget',
      '40'),
     "--config.optim.budget is given twice ('30', then '40'); give it once."),
])
def test_config_that_cannot_be_read_is_one_line(args, message, tmp_path):
  result = _launch(*args, '--workdir', str(tmp_path / 'run'))
  assert result.returncode == 1
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('datadiet: config:') and message in last
  assert 'Traceback' not in result.stderr
  assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('source, message', [
    ('def get_config(:\n  pass\n', r'SyntaxError: .*broken.py:1: invalid syntax'),
    ('def get_config():\n  return None\n', r'broken.py: get_config\(\) returned None; it must '
     r'return the config'),
    ('def get_config(setting="a"):\n  raise ValueError("Unknown setting; valid: a, b.")\n',
     r'broken.py:gpu: ValueError: Unknown setting; valid: a, b.'),
    ('from configs import default\ndef get_config():\n  c = default.get_config()\n'
     '  c.optim.budgett = 30\n  c.model.kwargs.widths = (8,)\n  return c\n',
     r"broken.py sets fields no job reads: 'optim.budgett' \(did you mean 'optim.budget'\?\)"
     r'; fix the names \(see configs/base.py for every field\)\.$'),
])
def test_config_file_that_fails_to_load_is_one_line(source, message, tmp_path):
  (tmp_path / 'broken.py').write_text(source)
  config = f'{tmp_path / "broken.py"}' + (':gpu' if 'setting' in source else '')
  result = _launch('--config', config, '--workdir', str(tmp_path / 'run'))
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  assert re.search('datadiet: config: .*' + message, result.stderr.strip().splitlines()[-1])
  assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('args, message', [
    (('--workdir=',), r'The workdir is empty \(--workdir=\); give the directory'),
    (('--workdir', 'RUN', '--config.runtime.compilation_cache_dir=/proc/no/cache'),
     r'config.runtime.compilation_cache_dir /proc/no/cache cannot be created'),
])
def test_workdir_and_cache_paths_are_refused_before_anything(args, message, tmp_path):
  args = [a.replace('RUN', str(tmp_path / 'run')) for a in args]
  result = _launch('--config', str(ROOT / 'configs' / 'train.py'), *args, cwd=tmp_path)
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  assert re.search(message, result.stderr)
  assert list(tmp_path.iterdir()) == []  # Nothing written, not even in the current directory.


def test_changed_config_that_contradicts_the_results_is_refused(finished):
  before = _snapshot(finished)
  with pytest.raises(errors.InputError,
                     match=r"differs in \['optim.learning_rate'\]: optim.learning_rate: 0.05 "
                           r'there, 0.1 here\)\. Use a new --workdir: a change of '
                           r"\['optim.learning_rate'\] would contradict the results there"):
    jobs.run(_tiny({'optim.learning_rate': 0.1}), finished)
  with pytest.raises(errors.InputError, match=r"holds results that the change of \['model.name', "
                                              r"'pretrain.seeds'\] would contradict: "
                                              r'--continue_with_changed_config only adds'):
    jobs.run(_tiny({'model.name': 'small_cnn', 'pretrain.seeds': (0, 2)}), finished,
             continue_with_changed_config=True)
  assert _snapshot(finished) == before


def test_distributed_without_a_coordinator_is_one_line(tmp_path):
  result = _launch('--config', 'configs/train.py', '--workdir', str(tmp_path / 'run'),
                   '--config.runtime.distributed.enabled=True')
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith(
      'datadiet: InputError: config.runtime.distributed.enabled is True but ')
  assert '--config.runtime.distributed.coordinator_address=host:port' in result.stderr
  assert 'Traceback' not in result.stderr
  assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('where', ['a file', 'under a file'])
def test_workdir_that_cannot_be_a_directory(where, tmp_path):
  (tmp_path / 'notes.txt').write_text('mine')
  workdir = tmp_path / 'notes.txt' if where == 'a file' else tmp_path / 'notes.txt' / 'run'
  with pytest.raises(errors.InputError, match='is a file, not a directory|Cannot create the '
                                              'workdir'):
    jobs.run(_tiny(), workdir)
  assert (tmp_path / 'notes.txt').read_text() == 'mine'


def test_workdir_that_is_not_writable(finished, monkeypatch):
  before = _snapshot(finished)
  monkeypatch.setattr(os, 'access', lambda path, mode: Path(path) != finished)  # As if read-only.
  with pytest.raises(errors.NotWritableError, match=r'The workdir .* is not writable \(no '
                                                    r'permission, or a read-only filesystem\)'):
    jobs.run(_tiny(), finished)
  assert _snapshot(finished) == before


def test_batch_that_does_not_split_over_the_devices(tmp_path):
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=4')
  result = _launch('--config', 'configs/train.py', '--workdir', str(tmp_path / 'run'),
                   '--config.pretrain.seeds=(0,)', '--config.optim.batch_size=30', env=env)
  assert result.returncode == 1
  assert ('config.optim.batch_size 30 does not split over the 4 devices of the data axis (4 '
          'devices, 1 of them for the seeds); use a multiple of 4.') in result.stderr
  assert not (tmp_path / 'run').exists()


def test_non_finite_loss_stops_with_the_seeds_and_steps(tmp_path):
  config = train_config.get_config()
  config.update_from_flattened_dict({
      'optim.learning_rate': 1e12, 'optim.budget': 3, 'runtime.checkpoint_every_steps': 1,
      'runtime.log_every_steps': 1, 'runtime.tensorboard': False})
  with pytest.raises(errors.DatadietError, match=r'Non-finite training loss for seed\(s\) '
                                                 r'\[0, 1, 2, 3\] between steps'):
    jobs.run(config, tmp_path)


@pytest.mark.parametrize('code, error, message', [
    (errno.ENOSPC, errors.DiskFullError, r'No space left on device. The results finished before '
     r'it are intact .*; free some space and relaunch'),
    (errno.EROFS, errors.NotWritableError, r'Read-only file system. The results finished before '
     r'it are intact .*; make the workdir writable'),
])
def test_unwritable_disk_names_the_file_and_leaves_finished_results(code, error, message,
                                                                    finished, tmp_path,
                                                                    monkeypatch):
  workdir = _damaged_copy(finished, tmp_path, redo='score')
  (workdir / 'scores' / 'el2n@10.npz').unlink()
  before = _snapshot(workdir)

  def cannot_write(*args, **kwargs):
    raise OSError(code, os.strerror(code))

  monkeypatch.setattr(np, 'savez', cannot_write)
  with pytest.raises(error, match=r'Could not write .*/scores/el2n@10.npz: ' + message):
    jobs.run(_tiny(), workdir)
  assert _snapshot(workdir) == before  # No temporary left behind, nothing else touched.


def test_a_dataset_changed_under_a_workdir_is_refused_untouched(tmp_path, write_image_folder):
  """An image removed between two launches (e.g. an unreadable one, deleted): the relaunch would
  resume a run of the old examples on the new ones. It is refused before anything is written;
  with the dataset restored, the run resumes."""
  from configs import train
  from datadiet import jobs, workdir as workdirs
  from datadiet.data import sources
  write_image_folder(tmp_path / 'images', per_class=3)
  config = train.get_config()
  config.update_from_flattened_dict({
      'data.name': f'image_folder:{tmp_path / "images"}', 'optim.budget': 2,
      'optim.batch_size': 2, 'runtime.eval_batch_size': 2, 'runtime.tensorboard': False})
  run = tmp_path / 'run'
  jobs.run(config, run)
  recorded = json.loads((run / 'dataset.json').read_text())
  assert recorded['train_examples'] == 6 and len(recorded['sha256']) == 64
  before = {p: p.read_bytes() for p in run.rglob('*') if p.is_file()}
  removed = next((tmp_path / 'images' / 'train' / 'dog').iterdir())
  kept = removed.read_bytes()
  removed.unlink()
  sources._load_once.cache_clear()  # pylint: disable=protected-access  (a new launch)
  with pytest.raises(workdirs.WorkdirDatasetMismatchError,
                     match=r'The dataset changed since the run in .* began \(train examples 6 → '
                     r'5\); restore it .*or start a new workdir\.'):
    jobs.run(config, run)
  assert {p: p.read_bytes() for p in run.rglob('*') if p.is_file()} == before
  removed.write_bytes(kept)
  sources._load_once.cache_clear()  # pylint: disable=protected-access
  assert 'already trained' in jobs.run(config, run)
