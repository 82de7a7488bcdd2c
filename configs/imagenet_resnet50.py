"""ImageNet / ResNet50, streamed: the paper's protocol carried to data that does not fit in memory.

  python launch.py --config configs/imagenet_resnet50.py --workdir /tmp/in_r50 \
      --config.data.dir=$HOME/tensorflow_datasets

ImageNet is read through TFDS prepared as ArrayRecord (random access; `tfds build imagenet2012
--file_format=array_record`), or from a copy as an image folder
(``--config.data.name=image_folder:/data/imagenet`` with ``train/<class>/*.JPEG`` and
``test/<class>/*.JPEG``). Every batch is read from disk (``input_pipeline='stream'``), on many
hosts with ``--config.runtime.distributed.enabled=True`` (see the README).

The usual recipe: 90 epochs (112,680 steps) at batch 1024, SGD with momentum 0.9, lr 0.4
(0.1 per 256) after a 5-epoch linear warm-up, cosine decay, weight decay 1e-4, no label
smoothing (so EL2N and GraNd keep the paper's definitions). Training images get the
random-resized crop and flip at 224²; scoring and evaluation, the resize to 256 and centre crop
to 224. The paper's scoring protocol
transferred: 4 scoring seeds, scores at initialisation and after ~10% of training (epoch 9; the
paper's epoch 20 of 200), EL2N and GraNd averaged over seeds; subsets pruning 10–50% (the range
the follow-up literature reports on ImageNet), retrained with 2 fresh seeds.
"""

import ml_collections

from configs import base

EPOCHS = 90
NUM_TRAIN = 1_281_167  # ImageNet-1k's training split.
STEPS_PER_EPOCH = -(-NUM_TRAIN // 1024)  # 1,252: the last batch straddles two epochs.


def get_config() -> ml_collections.ConfigDict:
  config = base.get_config()
  config.data.name = 'imagenet2012'
  config.data.image_size = 224
  config.data.augment = 'resized_crop_flip'
  # The usual ImageNet normalisation (measuring it would be one more pass over 1.28M images).
  config.data.channel_stats = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
  config.model.name = 'resnet50'
  config.model.kwargs = dict(stem='imagenet', widths=(64, 128, 256, 512))
  config.model.compute_dtype = 'bfloat16'
  config.optim.batch_size = 1024
  # In steps, as the paper fixes its budget: a pruned subset trains as long as the full set.
  config.optim.budget, config.optim.budget_unit = EPOCHS * STEPS_PER_EPOCH, 'steps'
  config.optim.learning_rate = 0.4
  config.optim.schedule = 'cosine'
  config.optim.warmup_fraction = 5 / EPOCHS
  config.optim.momentum, config.optim.nesterov, config.optim.weight_decay = 0.9, False, 1e-4
  config.pretrain.seeds = (0, 1, 2, 3)
  score_step = 9 * STEPS_PER_EPOCH
  config.scores.names = ('el2n', 'grand', 'loss', 'random')
  config.scores.steps = (0, score_step)
  config.prune.by = (f'el2n@{score_step}', f'grand@{score_step}')
  config.prune.methods = ('keep_hardest', 'random')
  config.prune.fractions = (0.1, 0.2, 0.3, 0.4, 0.5)
  config.retrain.seeds = (100, 101)
  config.runtime.input_pipeline = 'stream'
  config.runtime.eval_batch_size = 1024
  config.runtime.score_batch_size = 1024
  config.runtime.checkpoint_every_steps = 5_000
  return config
