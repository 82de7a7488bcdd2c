"""Empirical NTK Gram matrices of blocks of examples, and their velocity between checkpoints
(Fort et al. 2020; the paper's "stable representation subspaces").

For a block of B examples and a network with K logits f_k(x; θ), the Gram matrix combines the K
logits by their trace:

  G_ij = Σ_k ⟨∂f_k(x_i)/∂θ, ∂f_k(x_j)/∂θ⟩,

a B × B matrix (for a linear model f(x) = x W it is K · X Xᵀ). Its *velocity* between two
checkpoints is the cosine distance 1 − ⟨G, G′⟩_F / (‖G‖_F ‖G′‖_F): 0 when the kernel only
rescales.

Three ways to get G, one answer:

* ``'per_example'`` builds the Jacobian one example at a time (``vmap`` of a single example's
  reverse-mode Jacobian, ``chunk_size`` examples at once): B·K backward passes of *one* example,
  the cheapest in compute, but it holds J, B·K·#params numbers. It assumes each example's logits
  depend on that example alone, true for a network in evaluation mode (BatchNorm with running
  statistics), which is how the kernel is measured.
* ``'vector_products'`` never forms the (B·K) × #params Jacobian J: it linearises the block's
  forward pass once and, for each of the B·K one-hot cotangents e, applies J Jᵀ e (a transposed
  linear pass, then a linear pass over the block, both reusing the forward's residuals), keeping
  only the entries that pair logit k with logit k. Memory is the forward's residuals plus
  ``chunk_size`` parameter-sized vectors; the cost is B·K passes over the whole block, B times
  the per-example method's.
* ``'auto'`` (default) takes ``'per_example'`` when J fits in ``max_jacobian_bytes`` (a small CNN's
  block of 100 CIFAR images: 80 MB) and ``'vector_products'`` otherwise (a ResNet18's: 45 GB).

``'jacobian'`` differentiates the whole block at once (B·K backward passes of the block, memory
B·K·#params) and is there as a reference for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

METHODS = ('auto', 'per_example', 'vector_products', 'jacobian')


def jacobian_bytes(params: Any, num_examples: int, num_logits: int) -> int:
  """Bytes of the (B·K) × #params Jacobian of a block (what ``'per_example'`` holds)."""
  return num_examples * num_logits * sum(x.size * x.dtype.itemsize
                                         for x in jax.tree.leaves(params))


def block_gram(logits_fn: Callable[[Any, jax.Array], jax.Array], params: Any,
               inputs: jax.Array, *, method: str = 'auto', chunk_size: int | None = 16,
               max_jacobian_bytes: int = 2**30) -> jax.Array:
  """The (B, B) logit-trace NTK Gram matrix of ``inputs`` under ``logits_fn(params, inputs)``.

  Args:
    logits_fn: ``(params, inputs) -> (B, K)`` logits (e.g. a model's apply in eval mode).
    params: the parameters to differentiate (a pytree).
    inputs: a block of B examples.
    method: one of :data:`METHODS` (see the module docstring).
    chunk_size: examples (``'per_example'``) or cotangents (``'vector_products'``) processed
      together; ``None`` processes all at once.
    max_jacobian_bytes: ``'auto'`` materialises the Jacobian only below this size.
  """
  if method not in METHODS:
    raise ValueError(f'Unknown NTK method {method!r}; valid: {", ".join(METHODS)}.')
  if method == 'auto':
    num_logits = jax.eval_shape(logits_fn, params, inputs[:1]).shape[-1]
    fits = jacobian_bytes(params, len(inputs), num_logits) <= max_jacobian_bytes
    method = 'per_example' if fits else 'vector_products'
  logits_of = lambda p: logits_fn(p, inputs)
  if method == 'per_example':
    one = jax.jacrev(lambda p, x: logits_fn(p, x[None])[0])  # Leaves (K, *param_shape).
    jac = jax.lax.map(lambda x: one(params, x), inputs, batch_size=chunk_size)
    return sum(jnp.einsum('ik...,jk...->ij', leaf, leaf) for leaf in jax.tree.leaves(jac))
  if method == 'jacobian':
    jac = jax.jacrev(logits_of)(params)  # Leaves (B, K, *param_shape).
    return sum(jnp.einsum('ik...,jk...->ij', leaf, leaf) for leaf in jax.tree.leaves(jac))

  logits, jvp = jax.linearize(logits_of, params)
  vjp = jax.linear_transpose(jvp, params)
  num_examples, num_logits = logits.shape

  def column(flat_index):  # Cotangent e_(j, k): returns G's column j, logit k's term.
    cotangent = jax.nn.one_hot(flat_index, num_examples * num_logits, dtype=logits.dtype)
    jj_t_e = jvp(vjp(cotangent.reshape(num_examples, num_logits))[0])  # (B, K)
    return jj_t_e[:, flat_index % num_logits]

  columns = jax.lax.map(column, jnp.arange(num_examples * num_logits), batch_size=chunk_size)
  return columns.reshape(num_examples, num_logits, num_examples).sum(1)


def velocity(gram: jax.Array, next_gram: jax.Array) -> jax.Array:
  """Cosine distance between two Gram matrices: 0 for the same kernel up to scale."""
  inner = jnp.vdot(gram, next_gram)
  return 1.0 - inner / (jnp.linalg.norm(gram) * jnp.linalg.norm(next_gram))
