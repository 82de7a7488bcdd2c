"""ResNets: the paper's ResNet18/50 with the CIFAR 3×3 stem (or the ImageNet one), and ResNet-20.

``stem='cifar'`` (the default) is a 3×3 stride-1 convolution, as the paper's CIFAR networks;
``stem='imagenet'`` is the standard 7×7 stride-2 convolution followed by a 3×3 stride-2 max-pool
(He et al. 2016), for large images (``model.kwargs.stem``).

All models take NHWC images and ``train: bool``; BatchNorm uses batch statistics when training
and running statistics otherwise (the mode every score is computed in). With
``batch_norm_axis_name`` set, training-mode statistics are averaged over that mapped axis (the
engine's data-parallel axis), so a batch split over devices normalises like the whole batch.

``dtype`` is the compute dtype of every convolution, dense layer and BatchNorm (``bfloat16``
for mixed precision); parameters and BatchNorm statistics stay float32 whatever it is (Flax
reduces batch statistics in float32), and the logits are returned as float32 so that losses and
scores never see a bfloat16 softmax.

As in the authors' Flax ResNets, a bottleneck block's last BatchNorm starts with its scale at
zero (each residual branch starts as the identity; Goyal et al. 2017), a basic block's does not;
``zero_init_last_bn`` overrides that for every block of a network (``model.kwargs``). It changes
GraNd at initialisation: a zero scale zeroes the gradient of every weight inside the branch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp
from jax.typing import DTypeLike

from datadiet import errors
from datadiet.models.registry import float_logits, register

_conv = functools.partial(nn.Conv, use_bias=False, padding='SAME')
_batch_norm = functools.partial(nn.BatchNorm, momentum=0.9, epsilon=1e-5)


def _last_scale_init(zero: bool):
  return nn.initializers.zeros_init() if zero else nn.initializers.ones_init()


class BasicBlock(nn.Module):
  """Two 3×3 convolutions with an identity (or 1×1 projection) shortcut."""
  features: int
  strides: int = 1
  batch_norm_axis_name: str | None = None
  dtype: DTypeLike | None = None  # None: from the inputs and parameters, as in Flax.
  zero_init_last_bn: bool = False

  @nn.compact
  def __call__(self, x, train: bool):
    norm = functools.partial(_batch_norm, use_running_average=not train,
                             axis_name=self.batch_norm_axis_name, dtype=self.dtype)
    conv = functools.partial(_conv, dtype=self.dtype)
    y = nn.relu(norm()(conv(self.features, (3, 3), self.strides)(x)))
    y = norm(scale_init=_last_scale_init(self.zero_init_last_bn))(conv(self.features, (3, 3))(y))
    if x.shape != y.shape:
      x = norm()(conv(self.features, (1, 1), self.strides)(x))
    return nn.relu(x + y)


class Bottleneck(nn.Module):
  """1×1 → 3×3 → 1×1 convolutions (4× expansion) with a projection shortcut when needed."""
  features: int
  strides: int = 1
  batch_norm_axis_name: str | None = None
  dtype: DTypeLike | None = None  # None: from the inputs and parameters, as in Flax.
  zero_init_last_bn: bool = True  # As the authors' (Flax's) bottleneck block.

  @nn.compact
  def __call__(self, x, train: bool):
    norm = functools.partial(_batch_norm, use_running_average=not train,
                             axis_name=self.batch_norm_axis_name, dtype=self.dtype)
    conv = functools.partial(_conv, dtype=self.dtype)
    y = nn.relu(norm()(conv(self.features, (1, 1))(x)))
    y = nn.relu(norm()(conv(self.features, (3, 3), self.strides)(y)))
    y = norm(scale_init=_last_scale_init(self.zero_init_last_bn))(
        conv(4 * self.features, (1, 1))(y))
    if x.shape != y.shape:
      x = norm()(conv(4 * self.features, (1, 1), self.strides)(x))
    return nn.relu(x + y)


STEMS = ('cifar', 'imagenet')


class ResNet(nn.Module):
  """A ResNet: a stem (CIFAR 3×3, or ImageNet 7×7/2 + max-pool), stages of blocks, global
  average pool."""
  num_classes: int
  stage_sizes: Sequence[int]
  block: type[nn.Module] = BasicBlock
  widths: Sequence[int] = (64, 128, 256, 512)
  batch_norm_axis_name: str | None = None
  dtype: DTypeLike | None = None  # None: from the inputs and parameters, as in Flax.
  zero_init_last_bn: bool | None = None  # None: the block's own default.
  stem: str = 'cifar'

  def __post_init__(self):
    if self.stem not in STEMS:  # Refused when the model is built (preflight), not mid-run.
      raise errors.InputError(f'Unknown ResNet stem {self.stem!r} (model.kwargs.stem); valid: '
                              f'{", ".join(STEMS)}.')
    super().__post_init__()

  @nn.compact
  def __call__(self, x, train: bool = False):
    if self.stem == 'imagenet':
      x = _conv(self.widths[0], (7, 7), 2, dtype=self.dtype, name='stem')(x)
    else:
      x = _conv(self.widths[0], (3, 3), dtype=self.dtype, name='stem')(x)
    x = nn.relu(_batch_norm(use_running_average=not train, axis_name=self.batch_norm_axis_name,
                            dtype=self.dtype, name='stem_bn')(x))
    if self.stem == 'imagenet':
      x = nn.max_pool(x, (3, 3), strides=(2, 2), padding='SAME')
    for stage, (num_blocks, width) in enumerate(zip(self.stage_sizes, self.widths)):
      for index in range(num_blocks):
        strides = 2 if stage > 0 and index == 0 else 1
        options = ({} if self.zero_init_last_bn is None
                   else {'zero_init_last_bn': self.zero_init_last_bn})
        x = self.block(width, strides, self.batch_norm_axis_name, self.dtype, **options)(x, train)
    x = jnp.mean(x, axis=(1, 2))
    logits = nn.Dense(self.num_classes, dtype=self.dtype, name='head')(x)
    return float_logits(logits)


ResNet20 = register('resnet20', functools.partial(ResNet, stage_sizes=(3, 3, 3),
                                                  widths=(16, 32, 64)))
ResNet18 = register('resnet18', functools.partial(ResNet, stage_sizes=(2, 2, 2, 2)))
ResNet50 = register('resnet50', functools.partial(ResNet, stage_sizes=(3, 4, 6, 3),
                                                  block=Bottleneck))
