"""airbench: the fast CIFAR-10 network (K. Jordan 2024, "94% on CIFAR-10 in 3.29 seconds on a
single GPU"), written from its published description.

The network, for 32×32 images:

* a 2×2 patch-whitening convolution (no padding, 2·C·4 = 24 filters for RGB) whose kernel is
  *fitted to data*, not trained: the eigenvectors of the patches' second-moment matrix scaled
  by 1/√(λ + ε), followed by their negatives; its bias trains (the recipe stops it after the
  first part of the run, ``optim.param_groups``); then GELU;
* three conv groups (conv 3×3, 2×2 max-pool, BatchNorm, GELU, conv 3×3, BatchNorm, GELU) of
  ``widths`` channels; each convolution starts as the identity on its first ``min(in, out)``
  output channels (the rest drawn as PyTorch draws a convolution); BatchNorm's scale is fixed at
  1 (no parameter), its bias trains, its statistics move with momentum 0.6, ε = 1e-12 (which
  tiny batches of tiny images may need larger: ``batch_norm_epsilon``);
* a global max-pool (airbench's 3×3 pool of the 3×3 map that 32×32 inputs leave), a linear
  head without bias, and the logits scaled by ``head_scale`` (1/9).

The whitening kernel lives in the ``constants`` collection: neither a parameter (GraNd counts
what trains; no gradient reaches it) nor a statistic that training moves. ``init`` fits it to
the batch it is given; the engine refits it to ``fit_examples`` training images of the run
(:meth:`AirbenchNet.fit_constants`; spread evenly over the examples the run trains on, in dataset
order: a pruned subset's own, when retraining) and checkpoints it with the state.

Parameters: 1.97M at the default widths (64, 256, 256); ``widths=(16, 64, 64)`` is a quarter
width for CPUs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from datadiet import errors
from datadiet.models.registry import float_logits, register

WHITENING_KERNEL_SIZE = 2
# Three 2×2 pools after the 2×2 whitening convolution leave at least one pixel from 9×9 inputs.
MIN_IMAGE_SIZE = WHITENING_KERNEL_SIZE + 7


def _patches(images: jax.Array, size: int) -> jax.Array:
  """Every ``size``×``size`` patch of ``(N, H, W, C)`` images, flattened in the order of a
  convolution kernel's ``(h, w, c)`` axes: ``(N·(H−size+1)·(W−size+1), size·size·C)``."""
  height, width = images.shape[1] - size + 1, images.shape[2] - size + 1
  shifted = [images[:, i:i + height, j:j + width, :] for i in range(size) for j in range(size)]
  return jnp.stack(shifted, axis=3).reshape(-1, size * size * images.shape[-1])


def patch_second_moment(images, size: int = WHITENING_KERNEL_SIZE,
                        chunk: int = 1000) -> np.ndarray:
  """``E[p pᵀ]`` over every ``size``×``size`` patch ``p`` of normalised images ``(N, H, W, C)``
  (uncentred, as airbench), in float64: the smallest eigenvalues, scaled up most, are the
  first to suffer from float32 sums of millions of patches."""
  images = np.asarray(images, np.float32)
  total, count = 0.0, 0
  for start in range(0, len(images), chunk):
    patches = np.asarray(_patches_jit(jnp.asarray(images[start:start + chunk]), size), np.float64)
    total = total + patches.T @ patches
    count += patches.shape[0]
  return total / count


_patches_jit = jax.jit(_patches, static_argnums=1)


def whitening_kernel_from_moment(moment, size: int, channels: int, eps: float):
  """The whitening kernel ``(size, size, C, 2·size²·C)`` of a patch second-moment matrix:
  eigenvectors by decreasing eigenvalue, each scaled by 1/√(λ + ε), then their negatives.
  NumPy in, NumPy out; JAX arrays (traced) in, JAX out."""
  xp = np if isinstance(moment, np.ndarray) else jnp
  eigenvalues, eigenvectors = xp.linalg.eigh(moment)
  scaled = eigenvectors[:, ::-1] / xp.sqrt(eigenvalues[::-1] + eps)  # Columns: the filters.
  kernel = scaled.reshape(size, size, channels, -1)
  return xp.concatenate([kernel, -kernel], axis=-1)


def whitening_kernel(images, size: int = WHITENING_KERNEL_SIZE, eps: float = 5e-4):
  """The whitening kernel fitted to normalised images ``(N, H, W, C)``: NumPy images give a
  float32 NumPy kernel from float64 sums; JAX arrays (e.g. traced in ``init``) a JAX kernel."""
  channels = images.shape[-1]
  if isinstance(images, np.ndarray):
    moment = patch_second_moment(images, size)
    return whitening_kernel_from_moment(moment, size, channels, eps).astype(np.float32)
  patches = _patches(images.astype(jnp.float32), size)
  moment = patches.T @ patches / patches.shape[0]
  return whitening_kernel_from_moment(moment, size, channels, eps)


class Whitening(nn.Module):
  """The frozen patch-whitening convolution (``constants``/``kernel``, fitted to the ``init``
  batch) plus a trained bias.

  GraNd's fast path differentiates this layer's own ``apply`` per example (its one parameter is
  a short bias vector), as it does normalisation layers."""
  kernel_size: int = WHITENING_KERNEL_SIZE
  eps: float = 5e-4
  dtype: DTypeLike | None = None
  # A flag the fast path reads (datadiet.scores.grand_linen) rather than a registry there: the
  # scorer then knows no model, and a layer of one's own opts in where it is defined.
  grand_per_example_apply = True

  @nn.compact
  def __call__(self, x):
    kernel = self.variable('constants', 'kernel', whitening_kernel, x, self.kernel_size,
                           self.eps).value
    bias = self.param('bias', nn.initializers.zeros_init(), (kernel.shape[-1],), jnp.float32)
    dtype = jnp.result_type(x, jnp.float32) if self.dtype is None else self.dtype
    y = jax.lax.conv_general_dilated(x.astype(dtype), kernel.astype(dtype), (1, 1), 'VALID',
                                     dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    return y + bias.astype(dtype)


def identity_then_torch_init(key, shape, dtype=jnp.float32):
  """A 3×3 convolution kernel ``(h, w, in, out)``: output channels ``< in`` are the identity
  (the centre tap passes channel ``o`` to ``o``), the rest uniform in ±1/√fan_in (PyTorch's
  default, which airbench keeps for them)."""
  height, width, inputs, outputs = shape
  drawn = nn.initializers.variance_scaling(1 / 3, 'fan_in', 'uniform')(key, shape, dtype)
  identity = min(inputs, outputs)
  eye = jnp.zeros((height, width, inputs, identity), dtype)
  eye = eye.at[height // 2, width // 2].set(jnp.eye(inputs, identity, dtype=dtype))
  return drawn.at[..., :identity].set(eye)


def _gelu(x):
  """GELU in its exact (erf) form, PyTorch's default and airbench's; Flax's default is tanh's."""
  return nn.gelu(x, approximate=False)


class ConvGroup(nn.Module):
  """conv → max-pool → BatchNorm → GELU → conv → BatchNorm → GELU."""
  features: int
  batch_norm_momentum: float = 0.6
  batch_norm_epsilon: float = 1e-12
  batch_norm_axis_name: str | None = None
  dtype: DTypeLike | None = None

  @nn.compact
  def __call__(self, x, train: bool):
    conv = functools.partial(nn.Conv, self.features, (3, 3), padding='SAME', use_bias=False,
                             kernel_init=identity_then_torch_init, dtype=self.dtype)
    # Two-pass variance (not Flax's default E[x²] − E[x]²), as PyTorch computes it: with
    # ε = 1e-12 a cancelled variance is not rescued by ε.
    norm = functools.partial(nn.BatchNorm, use_running_average=not train,
                             momentum=self.batch_norm_momentum, epsilon=self.batch_norm_epsilon,
                             use_scale=False, use_fast_variance=False,
                             axis_name=self.batch_norm_axis_name, dtype=self.dtype)
    x = nn.max_pool(conv(name='conv1')(x), (2, 2), strides=(2, 2))
    x = _gelu(norm(name='norm1')(x))
    return _gelu(norm(name='norm2')(conv(name='conv2')(x)))


class AirbenchNet(nn.Module):
  """airbench's network (see the module docstring); NHWC images, ``train`` selects batch or
  running BatchNorm statistics."""
  num_classes: int
  widths: Sequence[int] = (64, 256, 256)
  batch_norm_momentum: float = 0.6
  # airbench's; tiny batches of tiny images (a 1×1 map after the last group) want more.
  batch_norm_epsilon: float = 1e-12
  head_scale: float = 1 / 9
  whitening_eps: float = 5e-4
  # How many of the run's training images the whitening is fitted to (airbench: 5,000).
  fit_examples: int = 5000
  batch_norm_axis_name: str | None = None
  dtype: DTypeLike | None = None  # None: from the inputs and parameters, as in Flax.

  def __post_init__(self):
    if len(self.widths) != 3 or any(not isinstance(w, int) or w < 1 for w in self.widths):
      raise errors.InputError(f'airbench takes three positive group widths (model.kwargs.widths),'
                              f' got {self.widths!r}; airbench94: (64, 256, 256).')
    if not isinstance(self.fit_examples, int) or self.fit_examples < 1:
      raise errors.InputError(f'model.kwargs.fit_examples must be a positive integer (training '
                              f'images the whitening is fitted to), got {self.fit_examples!r}.')
    super().__post_init__()

  @nn.compact
  def __call__(self, x, train: bool = False):
    if min(x.shape[1:3]) < MIN_IMAGE_SIZE:
      raise errors.InputError(f'airbench needs images of at least {MIN_IMAGE_SIZE}×'
                              f'{MIN_IMAGE_SIZE} pixels (three 2×2 pools follow its 2×2 '
                              f'whitening), got {x.shape[1]}×{x.shape[2]}; resize the images '
                              '(config.data.image_size), or use another model.')
    x = _gelu(Whitening(eps=self.whitening_eps, dtype=self.dtype, name='whiten')(x))
    for index, width in enumerate(self.widths):
      x = ConvGroup(width, self.batch_norm_momentum, self.batch_norm_epsilon,
                    self.batch_norm_axis_name, self.dtype, name=f'group{index + 1}')(x, train)
    x = jnp.max(x, axis=(1, 2))
    logits = nn.Dense(self.num_classes, use_bias=False, dtype=self.dtype,
                      kernel_init=nn.initializers.variance_scaling(1 / 3, 'fan_in', 'uniform'),
                      name='head')(x)
    return float_logits(logits * self.head_scale)

  def fit_constants(self, images: np.ndarray) -> dict:
    """The ``constants`` collection fitted to normalised training images ``(N, H, W, C)``
    (the engine passes :attr:`fit_examples` of the run's)."""
    return {'whiten': {'kernel': whitening_kernel(np.asarray(images, np.float32),
                                                  eps=self.whitening_eps)}}


register('airbench', AirbenchNet)
