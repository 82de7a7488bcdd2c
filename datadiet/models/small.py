"""Small models that train in seconds on a CPU: an MLP and a BatchNorm CNN.

``dtype`` is the compute dtype (see :mod:`datadiet.models.resnet`); logits are float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp
from jax.typing import DTypeLike

from datadiet.models.registry import float_logits, register


class MLP(nn.Module):
  """Flatten, then ReLU hidden layers, then a linear classifier."""
  num_classes: int
  hidden: Sequence[int] = (256, 256)
  batch_norm_axis_name: str | None = None  # No BatchNorm: accepted for a uniform interface.
  dtype: DTypeLike | None = None  # None: from the inputs and parameters, as in Flax.

  @nn.compact
  def __call__(self, x, train: bool = False):
    del train  # No BatchNorm or dropout: same function in both modes.
    x = x.reshape(x.shape[0], -1)
    for width in self.hidden:
      x = nn.relu(nn.Dense(width, dtype=self.dtype)(x))
    return float_logits(nn.Dense(self.num_classes, dtype=self.dtype)(x))


register('mlp', MLP)


class SmallCNN(nn.Module):
  """Conv-BN-ReLU blocks with 2×2 average pooling, global pooling and a linear classifier."""
  num_classes: int
  widths: Sequence[int] = (32, 64)
  batch_norm_axis_name: str | None = None  # See datadiet.models.resnet.
  dtype: DTypeLike | None = None  # None: from the inputs and parameters, as in Flax.

  @nn.compact
  def __call__(self, x, train: bool = False):
    for width in self.widths:
      x = nn.Conv(width, (3, 3), use_bias=False, dtype=self.dtype)(x)
      x = nn.BatchNorm(use_running_average=not train, momentum=0.9,
                       axis_name=self.batch_norm_axis_name, dtype=self.dtype)(x)
      x = nn.avg_pool(nn.relu(x), (2, 2), strides=(2, 2), padding='SAME')
    x = jnp.mean(x, axis=(1, 2))
    return float_logits(nn.Dense(self.num_classes, dtype=self.dtype)(x))


register('small_cnn', SmallCNN)
