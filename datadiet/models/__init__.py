"""The models of a run: every registered architecture by name (:mod:`datadiet.models.registry`),
built with its arguments and compute dtype; an unknown name fails with the valid ones.

Example::

  model = datadiet.models.get_model('resnet18', num_classes=10, dtype='bfloat16')
  variables = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False)
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import ml_collections
import jax.numpy as jnp
from jax.typing import DTypeLike

from datadiet import errors
# Each module registers its architectures; imported in the order the registry lists them.
from datadiet.models.small import MLP, SmallCNN  # mlp, small_cnn
from datadiet.models.resnet import ResNet18, ResNet20, ResNet50  # resnet20, resnet18, resnet50
from datadiet.models.airbench import AirbenchNet  # airbench
from datadiet.models.registry import MODELS

__all__ = ['AirbenchNet', 'COMPUTE_DTYPES', 'MLP', 'MODELS', 'ResNet18', 'ResNet20', 'ResNet50',
           'SmallCNN', 'arguments', 'check', 'compute_dtype', 'fits_to_data', 'from_config',
           'get_model']
# Compute dtypes a model may run in; parameters are float32 in every case. float16 would need
# loss scaling, which the training step does not do.
COMPUTE_DTYPES = ('float32', 'bfloat16')


def compute_dtype(dtype: DTypeLike) -> jnp.dtype:
  """``dtype`` (a name or a dtype) if it is one of :data:`COMPUTE_DTYPES`, else an InputError."""
  try:
    name = jnp.dtype(dtype).name
  except TypeError:
    name = None
  if name not in COMPUTE_DTYPES:
    raise errors.InputError(
        f'Unknown compute dtype {dtype!r}; valid: {", ".join(COMPUTE_DTYPES)}.')
  return jnp.dtype(name)


# Set by the code that builds a model, never by a config's model.kwargs.
_RESERVED_ARGUMENTS = ('num_classes', 'dtype', 'batch_norm_axis_name', 'parent', 'name')


def arguments(name: str) -> tuple[str, ...]:
  """The keyword arguments a config may give the architecture ``name`` (``model.kwargs``)."""
  check(name)
  module = MODELS[name].build
  while isinstance(module, functools.partial):
    module = module.func
  return tuple(f.name for f in dataclasses.fields(module) if f.name not in _RESERVED_ARGUMENTS)


def fits_to_data(model: nn.Module) -> bool:
  """Whether ``model`` has constants fitted to the run's training images (airbench's whitening):
  it then has ``fit_examples`` (how many) and ``fit_constants(images)`` (normalised images → its
  ``constants`` collection)."""
  return callable(getattr(model, 'fit_constants', None))


def check(name: str) -> None:
  """Raises an InputError naming the valid models if ``name`` is not one."""
  if name not in MODELS:
    raise errors.InputError(f'Unknown model {name!r}; valid models: {", ".join(MODELS)}.')


def get_model(name: str, num_classes: int, dtype: DTypeLike | None = None,
              **kwargs) -> nn.Module:
  """Builds the model registered as ``name`` with ``num_classes`` outputs, computing in
  ``dtype`` (parameters float32, logits at least float32); ``None`` takes the dtype from the
  inputs and parameters, as Flax does (float64 under x64). ``kwargs`` go to the architecture
  (see :func:`arguments`)."""
  check(name)
  unknown = sorted(set(kwargs) - set(arguments(name)) - {'batch_norm_axis_name'})
  if unknown:
    raise errors.InputError(f'Model {name} takes no argument {", ".join(unknown)}; its '
                            f'arguments: {", ".join(arguments(name)) or "none"}.')
  dtype = None if dtype is None else compute_dtype(dtype)
  return MODELS[name].build(num_classes=num_classes, dtype=dtype, **kwargs)


def from_config(config: ml_collections.ConfigDict, num_classes: int, name: str | None = None,
                **kwargs) -> nn.Module:
  """The architecture ``name`` (default ``config.model.name``) with ``config.model.kwargs``
  when it is that architecture; other architectures of a run (``scores.compare_models``,
  ``retrain.model``) take their defaults. ``kwargs`` (dtype, BatchNorm axis) go to
  :func:`get_model`."""
  name = name or config.model.name
  own = config.model.kwargs.to_dict() if name == config.model.name else {}
  own = {k: tuple(v) if isinstance(v, list) else v for k, v in own.items()}  # Hashable fields.
  return get_model(name, num_classes=num_classes, **own, **kwargs)
