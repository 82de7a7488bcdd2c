"""Model registry: parameter counts of the paper's architectures, clear unknown-name errors."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from datadiet import errors, models


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


def test_arguments_and_kwargs_from_the_config():
  assert models.arguments('small_cnn') == ('widths',)
  assert models.arguments('mlp') == ('hidden',)
  config = ml_collections.ConfigDict(dict(model=dict(name='small_cnn', kwargs=dict(widths=[8, 16]),
                                                     compute_dtype='float32')))
  narrow = models.from_config(config, num_classes=10)
  assert narrow.widths == (8, 16)
  shapes = jax.eval_shape(lambda: narrow.init(jax.random.key(0), jnp.zeros((1, 8, 8, 3))))
  assert shapes['params']['Conv_0']['kernel'].shape == (3, 3, 3, 8)
  # Another architecture of the run (compare_models, retrain.model) takes its defaults.
  assert models.from_config(config, num_classes=10, name='mlp').hidden == (256, 256)
  config.model.kwargs = dict(widht=(8,))
  with pytest.raises(errors.InputError, match=r'Model small_cnn takes no argument widht; its '
                                              r'arguments: widths\.'):
    models.from_config(config, num_classes=10)


def test_bottleneck_blocks_start_with_the_last_batch_norm_scale_at_zero():
  """As the authors' Flax ResNet50; ResNet18's basic blocks keep scale 1, and
  zero_init_last_bn overrides both."""
  def last_scales(name, **kwargs):
    model = models.get_model(name, num_classes=10, **kwargs)
    params = model.init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))['params']
    del params['stem_bn']
    last = 'BatchNorm_2' if name == 'resnet50' else 'BatchNorm_1'
    return {block: params[block][last]['scale'] for block in params if block.endswith(tuple(
        '0123456789')) and last in params[block]}

  for scale in last_scales('resnet50').values():
    np.testing.assert_array_equal(scale, 0.0)
  for scale in last_scales('resnet18').values():
    np.testing.assert_array_equal(scale, 1.0)
  for scale in last_scales('resnet50', zero_init_last_bn=False).values():
    np.testing.assert_array_equal(scale, 1.0)
  assert len(last_scales('resnet50')) == 16 and len(last_scales('resnet18')) == 8
  assert 'zero_init_last_bn' in models.arguments('resnet50')


def test_the_imagenet_stem_gives_the_standard_resnet50():
  """7×7/2 convolution + 3×3/2 max-pool: torchvision's ResNet50 has 25,557,032 parameters at
  1,000 classes, and a 224² image reaches the first stage at 56²."""
  model = models.get_model('resnet50', num_classes=1000, stem='imagenet')
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 224, 224, 3))))
  assert sum(p.size for p in jax.tree.leaves(shapes['params'])) == 25_557_032
  assert shapes['params']['stem']['kernel'].shape == (7, 7, 3, 64)
  _, state = jax.eval_shape(lambda: model.apply(
      model.init(jax.random.key(0), jnp.zeros((1, 224, 224, 3))), jnp.zeros((1, 224, 224, 3)),
      capture_intermediates=True, mutable=['intermediates']))
  first_block = state['intermediates']['Bottleneck_0']['__call__'][0]
  assert first_block.shape == (1, 56, 56, 256)
  small = models.get_model('resnet18', num_classes=10, stem='imagenet')
  out = jax.eval_shape(lambda: small.init_with_output(
      jax.random.key(0), jnp.zeros((2, 64, 64, 3)))[0])
  assert out.shape == (2, 10)
  with pytest.raises(errors.InputError, match="Unknown ResNet stem 'imagnet'"):
    models.get_model('resnet18', num_classes=10, stem='imagnet')
