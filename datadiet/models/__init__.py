"""Model registry: every architecture by name, an unknown name fails with the valid ones.

Example::

  model = datadiet.models.get_model('resnet18', num_classes=10)
  variables = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False)
"""

from __future__ import annotations

import flax.linen as nn

from datadiet import errors
from datadiet.models.resnet import ResNet18, ResNet20, ResNet50
from datadiet.models.small import MLP, SmallCNN

MODELS = {
    'mlp': MLP,
    'small_cnn': SmallCNN,
    'resnet20': ResNet20,
    'resnet18': ResNet18,
    'resnet50': ResNet50,
}


def get_model(name: str, num_classes: int, **kwargs) -> nn.Module:
  """Builds the model registered as ``name`` with ``num_classes`` outputs."""
  if name not in MODELS:
    raise errors.InputError(f'Unknown model {name!r}; valid models: {", ".join(MODELS)}.')
  return MODELS[name](num_classes=num_classes, **kwargs)
