"""Model registry: parameter counts of the paper's architectures, clear unknown-name errors."""

import jax
import jax.numpy as jnp
import pytest

from datadiet import models


@pytest.mark.parametrize('name,count', [
    ('resnet18', 11_173_962),  # The paper's ResNet18 with the CIFAR stem: ≈ 11.2M.
    ('resnet50', 23_520_842),
    ('resnet20', 272_474),  # He et al. 2016 report 0.27M.
])
def test_parameter_counts(name, count):
  model = models.get_model(name, num_classes=10)
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3))))
  assert sum(p.size for p in jax.tree.leaves(shapes['params'])) == count


@pytest.mark.parametrize('name', ['mlp', 'small_cnn', 'resnet20'])
def test_logits_shape_in_both_modes(name):
  model = models.get_model(name, num_classes=7)
  x = jnp.ones((2, 16, 16, 3))
  variables = model.init(jax.random.key(0), x)
  assert model.apply(variables, x).shape == (2, 7)
  logits, _ = model.apply(variables, x, train=True, mutable=['batch_stats'])
  assert logits.shape == (2, 7)


def test_unknown_model_lists_valid_names():
  with pytest.raises(ValueError, match='valid models: mlp, small_cnn, resnet20, resnet18'):
    models.get_model('vgg16', num_classes=10)
