"""A streamed run (images read from disk every step, resized on the fly) pretrains, scores and
prunes exactly as the in-memory run of the same resized images, from an image folder and from a
TFDS dataset of variable-size images."""

import numpy as np
import pytest

from configs import default as pipeline_config
from datadiet import errors, experiment, jobs, score_files
from tests import tiny_tfds

OVERRIDES = {
    'stages': ('pretrain', 'score', 'prune'), 'model.name': 'small_cnn',
    'data.image_size': 16, 'data.augment': 'pad_crop_flip',
    'pretrain.seeds': (0, 1), 'optim.budget': 10, 'optim.batch_size': 8,
    'scores.steps': (0, 8), 'scores.names': ('el2n', 'grand', 'forgetting', 'input_norm'),
    'prune.by': ('el2n@8', 'grand@0'), 'prune.methods': ('keep_hardest', 'offset'),
    'prune.fractions': (0.25, 0.5), 'runtime.score_batch_size': 8,
    'runtime.eval_batch_size': 8, 'runtime.log_every_steps': 5, 'runtime.tensorboard': False,
}


def _run(workdir, dataset, data_dir, input_pipeline):
  config = pipeline_config.get_config()
  config.update_from_flattened_dict(OVERRIDES)
  config.data.name, config.data.dir = dataset, data_dir
  config.runtime.input_pipeline = input_pipeline
  return experiment.run(config, workdir)


@pytest.mark.parametrize('source', ['image_folder', 'tfds'])
def test_streamed_run_equals_the_in_memory_run(tmp_path, write_varied_image_folder, source):
  if source == 'tfds':
    dataset, data_dir = tiny_tfds.build(tmp_path / 'tfds'), str(tmp_path / 'tfds')
  else:
    dataset, data_dir = write_varied_image_folder(tmp_path / 'images', per_class=8), None
  in_memory = _run(tmp_path / 'memory', dataset, data_dir, 'device')
  streamed = _run(tmp_path / 'stream', dataset, data_dir, 'stream')
  assert streamed.data.streamed and not in_memory.data.streamed
  names = sorted(p.name for p in in_memory.scores_dir.glob('*.npz'))
  # el2n and grand at 0 and 8; input_norm (model-free) once; forgetting at the end.
  assert len(names) == 2 * 2 + 1 + 1
  assert names == sorted(p.name for p in streamed.scores_dir.glob('*.npz'))
  for name in names:
    one = score_files.load_scores(in_memory.scores_dir / name)
    two = score_files.load_scores(streamed.scores_dir / name, ids=one.ids)
    np.testing.assert_allclose(two.per_seed, one.per_seed, rtol=1e-5, atol=1e-6, err_msg=name)
  subsets = sorted(p.name for p in in_memory.subsets_dir.glob('*.npz'))
  assert len(subsets) == 2 * 2 * 2
  for name in subsets:
    with np.load(in_memory.subsets_dir / name) as a, np.load(streamed.subsets_dir / name) as b:
      np.testing.assert_array_equal(a['ids'], b['ids'], err_msg=name)


def test_an_analysis_that_holds_the_images_is_refused_before_any_work(
    tmp_path, write_varied_image_folder):
  config = pipeline_config.get_config()
  config.update_from_flattened_dict(OVERRIDES)
  config.data.name = write_varied_image_folder(tmp_path / 'images')
  config.runtime.input_pipeline = 'stream'
  config.stages = ('pretrain', 'score', 'prune', 'error_barrier')
  with pytest.raises(errors.InputError, match=r"Stage 'error_barrier' needs the training images "
                     r"in memory.*'device' \(or 'tf_data', with TensorFlow\)\.$"):
    jobs.run(config, str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()
