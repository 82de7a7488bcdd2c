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
each a strided window of the padded input, one at a time.

All functions take arrays with a leading example axis and return ``(batch,)`` squared norms,
accumulated in float32 (float64 when the inputs are float64). The products themselves run in
the inputs' dtype: a bfloat16 model's activations and output-gradients are multiplied as
bfloat16 with float32 accumulation (``preferred_element_type``), which is exact for the
products and keeps the tensor cores busy, instead of being copied to float32 first.
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


def _einsum(subscripts: str, a: jax.Array, b: jax.Array, accumulate: jnp.dtype) -> jax.Array:
  """``einsum`` in the operands' dtype, accumulated (and returned) in ``accumulate``."""
  return jnp.einsum(subscripts, a, b, preferred_element_type=accumulate)


def bias_sq_norms(output_grads: jax.Array) -> jax.Array:
  """``‖sum_t g_t‖²`` per example: the squared norm of a bias shared over positions.

  Args:
    output_grads: ``(batch, *positions, out_features)``.
  """
  summed = jnp.sum(output_grads, axis=tuple(range(1, output_grads.ndim - 1)),
                   dtype=_accumulation_dtype(output_grads))
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
  x = inputs.reshape(batch, -1, inputs.shape[-1])
  g = output_grads.reshape(batch, -1, output_grads.shape[-1])
  num_positions = x.shape[1]
  if choose_method(num_positions, x.shape[-1], g.shape[-1], method) == 'ghost':
    if num_positions == 1:  # ‖x gᵀ‖ = ‖x‖ ‖g‖: skip the 1 × 1 Gram matrices.
      return _per_example_sq_sum(x.astype(dtype)) * _per_example_sq_sum(g.astype(dtype))
    x_gram = _einsum('btk,bsk->bts', x, x, dtype)
    g_gram = _einsum('btc,bsc->bts', g, g, dtype)
    return jnp.sum(x_gram * g_gram, axis=(1, 2))
  return _per_example_sq_sum(_einsum('btk,btc->bkc', x, g, dtype))


def _conv_offset_window(padded: jax.Array, offset: jax.Array, strides: Sequence[int],
                        kernel_dilation: Sequence[int], out_spatial: Sequence[int]) -> jax.Array:
  """The input pixels that one kernel offset meets, one per output pixel.

  Entry ``[i, p]`` of the ``(batch, *out_spatial, in_features)`` result is the (padded) input
  pixel that kernel offset ``offset`` multiplies when producing output pixel ``p``: one column
  block of the im2col patches.
  """
  zero = jnp.zeros((), offset.dtype)  # All start indices must share one integer type.
  starts = [zero] + [o * d for o, d in zip(offset, kernel_dilation)] + [zero]
  sizes = ([padded.shape[0]] + [(n - 1) * s + 1 for n, s in zip(out_spatial, strides)]
           + [padded.shape[-1]])
  window = jax.lax.dynamic_slice(padded, starts, sizes)
  return window[(slice(None),) + tuple(slice(None, None, s) for s in strides) + (slice(None),)]


def conv_sq_norms(inputs: jax.Array, output_grads: jax.Array, kernel_size: Sequence[int],
                  strides: Sequence[int], padding: Sequence[tuple[int, int]],
                  kernel_dilation: Sequence[int], method: NormMethod = 'auto',
                  unroll_offsets: bool = False) -> jax.Array:
  """Squared norms of per-example kernel gradients of a (non-grouped) convolution.

  The ``k²`` kernel offsets are visited by a ``lax.scan``, so only one offset's input window is
  alive at a time (measured on ResNet-20 on a CPU: unrolling them raised peak memory 3.8×);
  ``unroll_offsets`` unrolls that loop, which a GPU may run faster (``norm_tuning`` times both).

  Args:
    inputs: ``(batch, *in_spatial, in_features)``, channels last.
    output_grads: ``(batch, *out_spatial, out_features)``.
    kernel_size, strides, kernel_dilation: one int per spatial dimension.
    padding: explicit non-negative ``(low, high)`` zero padding per spatial dimension.
    method: 'ghost', 'materialize' or 'auto'.
    unroll_offsets: unroll the loop over kernel offsets.
  """
  batch = inputs.shape[0]
  out_spatial = output_grads.shape[1:-1]
  num_positions = math.prod(out_spatial)
  in_features, out_features = inputs.shape[-1], output_grads.shape[-1]
  chosen = choose_method(num_positions, math.prod(kernel_size) * in_features, out_features,
                         method)
  dtype = _accumulation_dtype(inputs, output_grads)
  g = output_grads.reshape(batch, num_positions, out_features)
  padded = jnp.pad(inputs, [(0, 0), *padding, (0, 0)])
  offsets = jnp.array(list(itertools.product(*(range(k) for k in kernel_size))), jnp.int32)

  def window(offset):
    return _conv_offset_window(padded, offset, strides, kernel_dilation, out_spatial).reshape(
        batch, num_positions, in_features)

  if chosen == 'ghost':
    def add_gram(x_gram, offset):
      x = window(offset)
      return x_gram + _einsum('btk,bsk->bts', x, x, dtype), None

    x_gram, _ = jax.lax.scan(add_gram, jnp.zeros((batch, num_positions, num_positions), dtype),
                             offsets, unroll=unroll_offsets)
    g_gram = _einsum('btc,bsc->bts', g, g, dtype)
    return jnp.sum(x_gram * g_gram, axis=(1, 2))

  def add_block_norm(total, offset):
    # The kernel gradient's rows for this offset: (batch, in_features, out_features).
    return total + _per_example_sq_sum(_einsum('btk,btc->bkc', window(offset), g, dtype)), None

  total, _ = jax.lax.scan(add_block_norm, jnp.zeros((batch,), dtype), offsets,
                          unroll=unroll_offsets)
  return total
