"""Per-example squared gradient norms of one linear layer, from its inputs and output-gradients.

For a layer ``y_t = W x_t + b`` applied at positions ``t`` (sequence steps, or the output pixels
of a convolution), example ``i``'s weight gradient is ``sum_t g_it x_itᵀ`` where ``g`` is the
gradient of the loss with respect to ``y``. Its squared Frobenius norm can be computed two ways:

* **ghost norm**: ``sum_{t,s} (x_t·x_s)(g_t·g_s)``, the inner product of the two Gram matrices
  over positions. Costs ``T²(K + C)`` per example, memory ``T²``; cheap when positions are few.
* **materialised**: form the ``K × C`` gradient ``Xᵀ G`` and reduce it at once. Costs ``T·K·C``
  per example, memory ``K·C``; cheap when positions are many and channels few.

``method='auto'`` picks the one with fewer FLOPs, per layer, from static shapes. Convolutions are
never unfolded into a ``T × k²C`` patch tensor: both forms sum over the kernel's ``k²`` offsets,
each a strided slice of the padded input.

All functions take arrays with a leading example axis and return ``(batch,)`` squared norms,
accumulated in float32 (float64 when the inputs are float64).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

import jax
import jax.numpy as jnp

NormMethod = Literal['auto', 'ghost', 'materialize']
NORM_METHODS = ('auto', 'ghost', 'materialize')


def choose_method(num_positions: int, in_features: int, out_features: int,
                  method: NormMethod = 'auto') -> str:
  """Returns 'ghost' or 'materialize' for a layer of the given static sizes.

  ``in_features`` counts every input entry a kernel column sees (``k² · C_in`` for a conv).
  """
  if method not in NORM_METHODS:
    raise ValueError(f'Unknown norm method {method!r}; valid: {", ".join(NORM_METHODS)}.')
  if method != 'auto':
    return method
  ghost_flops = num_positions**2 * (in_features + out_features + 1)
  materialize_flops = num_positions * in_features * out_features
  return 'ghost' if ghost_flops < materialize_flops else 'materialize'


def _accumulation_dtype(*arrays: jax.Array) -> jnp.dtype:
  """float32, or float64 when an input is float64: never reduce below float32."""
  return jnp.result_type(jnp.float32, *(a.dtype for a in arrays))


def _per_example_sq_sum(tensor: jax.Array) -> jax.Array:
  return jnp.sum(jnp.square(tensor), axis=tuple(range(1, tensor.ndim)))


def bias_sq_norms(output_grads: jax.Array) -> jax.Array:
  """``‖sum_t g_t‖²`` per example: the squared norm of a bias shared over positions.

  Args:
    output_grads: ``(batch, *positions, out_features)``.
  """
  g = output_grads.astype(_accumulation_dtype(output_grads))
  summed = jnp.sum(g, axis=tuple(range(1, g.ndim - 1)))
  return jnp.sum(jnp.square(summed), axis=-1)


def dense_sq_norms(inputs: jax.Array, output_grads: jax.Array,
                   method: NormMethod = 'auto') -> jax.Array:
  """Squared norms of per-example kernel gradients of a dense layer ``y = x @ W``.

  Args:
    inputs: ``(batch, *positions, in_features)``; positions may be empty.
    output_grads: ``(batch, *positions, out_features)``.
    method: 'ghost', 'materialize' or 'auto'.
  """
  batch = inputs.shape[0]
  dtype = _accumulation_dtype(inputs, output_grads)
  x = inputs.reshape(batch, -1, inputs.shape[-1]).astype(dtype)
  g = output_grads.reshape(batch, -1, output_grads.shape[-1]).astype(dtype)
  num_positions = x.shape[1]
  if choose_method(num_positions, x.shape[-1], g.shape[-1], method) == 'ghost':
    if num_positions == 1:  # ‖x gᵀ‖ = ‖x‖ ‖g‖: skip the 1 × 1 Gram matrices.
      return _per_example_sq_sum(x) * _per_example_sq_sum(g)
    x_gram = jnp.einsum('btk,bsk->bts', x, x)
    g_gram = jnp.einsum('btc,bsc->bts', g, g)
    return jnp.sum(x_gram * g_gram, axis=(1, 2))
  return _per_example_sq_sum(jnp.einsum('btk,btc->bkc', x, g))


def conv_input_offsets(inputs: jax.Array, kernel_size: Sequence[int],
                       strides: Sequence[int], padding: Sequence[tuple[int, int]],
                       kernel_dilation: Sequence[int],
                       out_spatial: Sequence[int]) -> list[jax.Array]:
  """The input slices a convolution multiplies with each kernel offset.

  Slice ``o`` has shape ``(batch, *out_spatial, in_features)``: entry ``[i, p]`` is the input
  pixel that kernel offset ``o`` meets when producing output pixel ``p``. Together they are the
  im2col patches, without ever stacking them.

  Args:
    inputs: ``(batch, *in_spatial, in_features)``, channels last.
    kernel_size, strides, kernel_dilation: one int per spatial dimension.
    padding: explicit ``(low, high)`` zero padding per spatial dimension (non-negative).
    out_spatial: the convolution's output spatial shape.
  """
  padded = jnp.pad(inputs, [(0, 0), *padding, (0, 0)])
  slices = []
  for offset in itertools.product(*(range(k) for k in kernel_size)):
    index = [slice(None)]
    for o, d, s, n in zip(offset, kernel_dilation, strides, out_spatial):
      start = o * d
      index.append(slice(start, start + (n - 1) * s + 1, s))
    index.append(slice(None))
    slices.append(padded[tuple(index)])
  return slices


def conv_sq_norms(inputs: jax.Array, output_grads: jax.Array, kernel_size: Sequence[int],
                  strides: Sequence[int], padding: Sequence[tuple[int, int]],
                  kernel_dilation: Sequence[int], method: NormMethod = 'auto') -> jax.Array:
  """Squared norms of per-example kernel gradients of a (non-grouped) convolution.

  Args:
    inputs: ``(batch, *in_spatial, in_features)``, channels last.
    output_grads: ``(batch, *out_spatial, out_features)``.
    kernel_size, strides, padding, kernel_dilation: as in :func:`conv_input_offsets`.
    method: 'ghost', 'materialize' or 'auto'.
  """
  batch = inputs.shape[0]
  out_spatial = output_grads.shape[1:-1]
  num_positions = math.prod(out_spatial)
  in_features, out_features = inputs.shape[-1], output_grads.shape[-1]
  chosen = choose_method(num_positions, math.prod(kernel_size) * in_features, out_features, method)
  dtype = _accumulation_dtype(inputs, output_grads)
  g = output_grads.reshape(batch, num_positions, out_features).astype(dtype)
  slices = conv_input_offsets(inputs.astype(dtype), kernel_size, strides, padding,
                              kernel_dilation, out_spatial)
  if chosen == 'ghost':
    x_gram = sum(
        jnp.einsum('btk,bsk->bts', xs.reshape(batch, num_positions, in_features),
                   xs.reshape(batch, num_positions, in_features)) for xs in slices)
    g_gram = jnp.einsum('btc,bsc->bts', g, g)
    return jnp.sum(x_gram * g_gram, axis=(1, 2))
  return sum(
      _per_example_sq_sum(
          jnp.einsum('btk,btc->bkc', xs.reshape(batch, num_positions, in_features), g))
      for xs in slices)
