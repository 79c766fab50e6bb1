"""The adversarial term (--adversarial patch): the PatchGAN's shapes, the hinge losses and VQGAN's
adaptive weight on known answers, and how it wraps a family's objective."""

import pytest
import torch

from vaekit.distributions import Bernoulli, DiagonalGaussian
from vaekit.errors import ConfigError
from vaekit.objectives import ObjectiveConfig, TCDiscriminator, make_objective
from vaekit.objectives.adversarial import (
    AdversarialObjective,
    CriticPair,
    PatchDiscriminator,
    adaptive_weight,
    check_adversarial,
    generated_images,
    patch_layers,
)
from vaekit.types import ModelOutput, Step


@pytest.mark.parametrize(("side", "layers", "patches"), [(8, 1, 2), (28, 2, 5), (32, 3, 2), (64, 3, 6), (256, 3, 30)])
def test_the_patch_map_fits_every_image_size(side, layers, patches):
    assert patch_layers(side, side) == layers
    d = PatchDiscriminator(3, side, side)
    assert d(torch.rand(2, 3, side, side)).shape == (2, 1, patches, patches)  # 256 px: pix2pix's 30x30 patches


def _constant(c: float, channels: int = 1, side: int = 8) -> PatchDiscriminator:
    """A discriminator that says c for every patch of every image."""
    d = PatchDiscriminator(channels, side, side)
    last = d.net[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.constant_(last.bias, c)
    return d


@pytest.mark.parametrize(("c", "expected"), [(0.0, 1.0), (2.0, 1.5), (-2.0, 1.5), (0.5, 1.0)])
def test_hinge_loss_known_answers(c, expected):
    """(relu(1 - c) + relu(1 + c)) / 2 for a discriminator that outputs c everywhere."""
    x = torch.rand(4, 1, 8, 8)
    loss = _constant(c).hinge(x, [x.clone(), x.clone()])
    assert loss.shape == (4,) and torch.allclose(loss, torch.full((4,), expected))


def test_the_hinge_loss_is_per_example():
    """GroupNorm, not BatchNorm: an example's loss does not depend on the rest of its batch."""
    torch.manual_seed(0)
    d = PatchDiscriminator(1, 16, 16)
    x, fake = torch.rand(6, 1, 16, 16), torch.rand(6, 1, 16, 16)
    assert torch.allclose(d.hinge(x, [fake])[:2], d.hinge(x[:2], [fake[:2]]), atol=1e-6)


def test_adaptive_weight_is_the_ratio_of_gradient_norms():
    w = torch.randn(3, 5, requires_grad=True)
    assert adaptive_weight(3.0 * w.sum(), 1.5 * w.sum(), w).item() == pytest.approx(2.0, rel=1e-3)
    assert adaptive_weight(w.sum(), 0.0 * w.sum(), w).item() == 1e4  # clamped where the term has no gradient yet
    assert not adaptive_weight(w.sum(), w.sum(), w).requires_grad


def _output(decoder: torch.nn.Linear, prior_sample: torch.Tensor | None = None) -> ModelOutput:
    z = torch.randn(4, 3)

    def decode(latent):
        return Bernoulli(decoder(latent).view(-1, 1, 8, 8))

    return ModelOutput(
        posterior=DiagonalGaussian(torch.zeros(4, 3), torch.zeros(4, 3)),
        z=z,
        likelihood=decode(z),
        prior=DiagonalGaussian.standard(4, 3, z),
        prior_sample=prior_sample,
        decode=decode,
    )


def test_the_term_adds_the_weighted_generator_loss_after_its_start():
    torch.manual_seed(0)
    decoder, x = torch.nn.Linear(3, 64), torch.rand(4, 1, 8, 8)
    config = ObjectiveConfig(adversarial="patch", adversarial_weight=0.5, adversarial_start=10)
    d = _constant(0.25).requires_grad_(False)
    base = make_objective("elbo", ObjectiveConfig())
    objective = AdversarialObjective(base, config, d, decoder.weight)
    output = _output(decoder)
    plain = base(output, x, Step(20, 100))
    before, after = objective(output, x, Step(9, 100)), objective(output, x, Step(10, 100))
    assert torch.equal(before.loss, plain.loss) and torch.allclose(before.adversarial, torch.full((4,), -0.25))
    # the constant discriminator gives the generator loss no gradient: the weight is clamped at 1e4
    assert torch.allclose(after.loss, plain.loss + 0.5 * 1e4 * -0.25) and torch.equal(after.reconstruction, plain.reconstruction)
    with torch.no_grad():  # validation reports the family's own terms
        assert objective(output, x, Step(50, 100)).adversarial is None


def test_samples_are_judged_when_the_forward_pass_drew_them():
    decoder = torch.nn.Linear(3, 64)
    assert len(generated_images(_output(decoder))) == 1
    fakes = generated_images(_output(decoder, prior_sample=torch.randn(4, 3)))
    assert len(fakes) == 2 and fakes[1].shape == (4, 1, 8, 8)


def test_factor_vae_with_the_term_trains_both_critics_as_one():
    config = ObjectiveConfig(adversarial="patch")
    base = make_objective("factor", config, latent_dim=3)
    objective = AdversarialObjective(base, config, PatchDiscriminator(1, 8, 8), torch.nn.Linear(3, 64).weight)
    assert isinstance(objective.critic, CriticPair) and isinstance(objective.critic.first, TCDiscriminator)
    assert objective.critic.lr == config.critic_lr and AdversarialObjective.needs_prior_sample
    with pytest.raises(ValueError, match="share their learning rate"):
        CriticPair(TCDiscriminator(3, lr=1e-4), PatchDiscriminator(1, 8, 8, lr=1e-3))


@pytest.mark.parametrize("shape", [(20,), (1, 4, 4), (3, 64, 6)])
def test_data_that_are_not_images_are_refused(shape):
    with pytest.raises(ConfigError, match="--adversarial patch needs images with both sides of 8 pixels or more"):
        check_adversarial(shape)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"adversarial_weight": 1.0}, "add --adversarial patch"),
        ({"adversarial_start": 100}, "add --adversarial patch"),
        ({"adversarial": "patch", "adversarial_weight": -1.0}, "--adversarial-weight must be 0 or more"),
        ({"adversarial": "patch", "adversarial_weight": float("nan")}, "adversarial-weight"),
        ({"adversarial": "patch", "adversarial_start": -5}, "--adversarial-start must be 0 or more"),
        ({"adversarial": "gan"}, "unknown --adversarial .gan.; choose one of: none, patch"),
    ],
)
def test_bad_adversarial_options_are_refused(options, message):
    with pytest.raises(ConfigError, match=message):
        ObjectiveConfig(**options)
