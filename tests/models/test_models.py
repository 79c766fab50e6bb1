"""One conformance test over every registered model, and the seed presets checked against the seed."""

import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from vaekit import run
from vaekit.data import InMemoryDataset
from vaekit.errors import ConfigError
from vaekit.evaluation import evaluate
from vaekit.models import MODELS, PRESETS, ModelConfig, build_model, networks, resolve_model_config
from vaekit.models.flows import FLOWS
from vaekit.models.hvae import HierarchicalVAE
from vaekit.models.vae import VAE
from vaekit.objectives import ObjectiveConfig, make_objective
from vaekit.run import layout
from vaekit.run.config import config_to_dict
from vaekit.runtime.files import atomic_write_json, load_tensors, save_tensors

LIKELIHOODS = [("bernoulli", False), ("gaussian", False), ("gaussian", True), ("continuous-bernoulli", False), ("logistic", False)]
ARCHS = ("mlp", "conv", "resnet")
# Every family on every network; every likelihood on every network for one VAE family and one
# autoencoder family (the likelihood head is shared by all families, so the other families need
# not repeat the whole 3 x 5 grid: the suite stays inside its time budget as families are added).
CASES = [(name, arch, "bernoulli", False, "none") for name in MODELS for arch in ARCHS]
CASES += [(name, arch, *lik, "none") for name in ("vae", "ae") for arch in ARCHS for lik in LIKELIHOODS if lik[0] != "bernoulli"]
CASES += [("vq-vae", "conv", "logistic", False, "none"), ("hvae", "conv", "gaussian", True, "none")]
# every flow on the plain VAE, and every family that takes a flow with one of them in turn
FLOW_FAMILIES = [name for name in MODELS if "flow" in MODELS[name].options]
CASES += [("vae", "mlp", "bernoulli", False, flow) for flow in FLOWS]
CASES += [(name, "mlp", "gaussian", False, FLOWS[i % len(FLOWS)]) for i, name in enumerate(FLOW_FAMILIES) if name != "vae"]
SHAPE = (1, 9, 10)  # odd sides: the conv decoder must restore the pixel the encoder rounded away


def _config(name, arch, likelihood, learn, flow="none"):
    defaults = resolve_model_config(name)  # the family's own defaults (an iwae decodes K samples)
    y = 3 if MODELS[name].conditional else 0  # a cvae gets 3 classes
    sizes = {"hidden": (16, 8), "width": 4, "latent_dim": 4, "code_dim": 2, "pseudo_inputs": 5, "flow": flow, "flow_steps": 2}
    return replace(defaults, arch=arch, likelihood=likelihood, learn_variance=learn, condition_dim=y, **sizes).for_data(SHAPE)


@pytest.mark.parametrize(("name", "arch", "likelihood", "learn", "flow"), CASES)
def test_every_registered_model_conforms(name, arch, likelihood, learn, flow, tmp_path):
    x = torch.rand(6, *SHAPE, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    model = build_model(_config(name, arch, likelihood, learn, flow))
    y = torch.eye(3)[torch.tensor([0, 1, 2, 0, 1, 2])] if model.conditioning else None  # (6, 3) one-hot
    out = model(x, torch.Generator().manual_seed(0), y)
    k = (model.samples,) if model.samples > 1 else ()
    d = model.latent_dim  # 4, or the sum of a hierarchy's layers
    assert out.z.shape == (*k, 6, d) and out.likelihood.mean.shape == (*k, *x.shape)
    assert model.decode(torch.randn(5, 6, d), y).log_prob(x).shape == (5, 6)  # K samples in front
    terms = make_objective(MODELS[name].objective, ObjectiveConfig(), model.latent_dim)(out, x)
    assert terms.loss.shape == (6,) and torch.isfinite(terms.loss).all()
    terms.loss.mean().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {pname}"
    # same seed, same output
    again = model(x, torch.Generator().manual_seed(0), y)
    assert torch.equal(again.z, out.z) and torch.equal(again.likelihood.mean, out.likelihood.mean)
    # save / load round trip through a run directory
    model_cfg = _config(name, arch, likelihood, learn, flow)
    atomic_write_json(tmp_path / layout.CONFIG, {"model": config_to_dict(model_cfg)})
    save_tensors(tmp_path / layout.WEIGHTS, model.state_dict())
    loaded = run.load(tmp_path, weights="last")
    assert run.model_config(tmp_path) == model_cfg
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.decode(loaded.encode(x, y).mode(), y).mean, model.decode(model.encode(x, y).mode(), y).mean)
    stochastic = isinstance(model, VAE | HierarchicalVAE)
    assert model.has_prior == (stochastic or name == "wae") and model.deterministic == (not stochastic)
    # vaekit evaluate works on it; models without a prior report reconstruction metrics only
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    report = evaluate(
        loaded, InMemoryDataset((x * 255).to(torch.uint8), labels, 255.0), iw_samples=3, generator=torch.Generator().manual_seed(0)
    )
    assert report.n == 6 and math.isfinite(report.reconstruction_nll) and math.isfinite(report.mse)
    assert (report.iwae_log_px is not None) == stochastic and (report.codebook_perplexity is not None) == (name == "vq-vae")


class SeedAutoencoder(nn.Module):
    """The seed's Autoencoder, verbatim (../shared/seed, 'Understanding a Simple Autoencoder')."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(28 * 28, 256), nn.ReLU(True), nn.Linear(256, 32), nn.ReLU(True))
        self.decoder = nn.Sequential(nn.Linear(32, 256), nn.ReLU(True), nn.Linear(256, 28 * 28), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


class SeedVAE(nn.Module):
    """The seed's VariationalAutoencoder (its sampling moved to a given eps to compare outputs)."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(28 * 28, 400), nn.ReLU(True), nn.Linear(400, 40))
        self.decoder = nn.Sequential(nn.Linear(20, 400), nn.ReLU(True), nn.Linear(400, 28 * 28), nn.Sigmoid())

    def forward(self, x, eps):
        h = self.encoder(x)
        mu, logvar = h[:, :20], h[:, 20:]
        z = eps.mul(logvar.exp().sqrt()).add(mu)
        return self.decoder(z), mu, logvar


def test_seed_ae_preset_is_exactly_the_seed_network():
    ours = build_model(PRESETS["seed-ae"].model)
    seed = SeedAutoencoder()
    seed.load_state_dict(ours.state_dict())  # same keys and shapes, strict
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(ours.decode(ours.encode(x).mode()).mean.flatten(1), seed(x.flatten(1)))
    assert PRESETS["seed-ae"].model.likelihood == "gaussian"  # MSE


def test_seed_vae_preset_is_exactly_the_seed_network():
    ours = build_model(PRESETS["seed-vae"].model)
    seed = SeedVAE()
    seed.load_state_dict(ours.state_dict())
    x, eps = torch.rand(5, 1, 28, 28), torch.randn(5, 20)
    with torch.no_grad():
        x_hat, mu, logvar = seed(x.flatten(1), eps)
        q = ours.encode(x)
        torch.testing.assert_close(q.mu, mu)
        torch.testing.assert_close(q.logvar, logvar)
        torch.testing.assert_close(ours.decode(q.mu + eps * q.std).mean.flatten(1), x_hat)
    assert sum(p.numel() for p in ours.parameters()) == 784 * 400 + 400 + 400 * 40 + 40 + 20 * 400 + 400 + 400 * 784 + 784


def test_presets_pin_their_input_shape_and_names_are_checked():
    with pytest.raises(
        ConfigError, match=r"preset 'seed-vae' is built for inputs of shape \(1, 28, 28\) but the data has shape \(1, 8, 8\)"
    ):
        PRESETS["seed-vae"].model.for_data((1, 8, 8), "seed-vae")
    with pytest.raises(ConfigError, match="unknown preset 'nope'; choose one of: seed-ae, seed-vae"):
        resolve_model_config(preset="nope")
    with pytest.raises(ConfigError, match="preset 'seed-ae' is a 'ae' model, not 'vae'"):
        resolve_model_config(model="vae", preset="seed-ae")
    with pytest.raises(ConfigError, match="unknown model 'gan'"):
        ModelConfig(kind="gan")
    with pytest.raises(ConfigError, match="input_shape"):
        build_model(ModelConfig())


def test_autoencoder_has_no_prior():
    model = build_model(ModelConfig(kind="ae", hidden=(8,), latent_dim=2).for_data((1, 2, 2)))
    with pytest.raises(ConfigError, match="has no prior to sample from; fit a density to its codes"):
        model.prior(4)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 20), (3, 64, 64), (3, 256, 256)])
def test_conv_networks_rebuild_any_image_size(shape):
    model = build_model(ModelConfig(arch="conv", width=4, latent_dim=32).for_data(shape))
    x = torch.rand(2, *shape)
    assert model(x).likelihood.mean.shape == x.shape
    sizes = networks.conv_sizes(shape[1], shape[2], None)
    assert min(sizes[-1]) <= 4 < min(sizes[-2])  # strided down to a small map, no further


@pytest.mark.parametrize("arch", ["conv", "resnet"])
def test_channels_last_convolutions_compute_the_plain_layout_function_and_save_plain_files(arch, tmp_path):
    torch.manual_seed(0)
    config = ModelConfig(arch=arch, width=8, latent_dim=4).for_data((3, 20, 28))
    model = build_model(config)
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in model.parameters() if p.dim() == 4)
    plain = build_model(config).to(memory_format=torch.contiguous_format)
    plain.load_state_dict(model.state_dict())
    assert all(p.is_contiguous() for p in plain.parameters())
    x = torch.rand(5, 3, 20, 28)
    for a, b in ((model, plain), (plain, model)):  # and either layout of the input
        q_a, q_b = a.encode(x), b.encode(x)
        torch.testing.assert_close(q_a.mu, q_b.mu, rtol=1e-5, atol=1e-5)
        z = q_a.mu
        torch.testing.assert_close(a.decode(z).mean, b.decode(z).mean, rtol=1e-5, atol=1e-5)
        assert a.decode(z).mean.is_contiguous()  # the likelihood sees (B, C, H, W) in the usual order
        x = x.contiguous(memory_format=torch.channels_last)
    save_tensors(tmp_path / "w.safetensors", model.state_dict())  # files hold the plain layout
    fresh = build_model(config)
    saved, _ = load_tensors(tmp_path / "w.safetensors")
    assert all(t.is_contiguous() for t in saved.values())
    fresh.load_state_dict(saved)
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in fresh.parameters() if p.dim() == 4)
    torch.testing.assert_close(fresh.encode(x).mu, model.encode(x).mu, rtol=0, atol=0)


@pytest.mark.parametrize(("c_out", "pad", "bias"), [(1, (0, 0), True), (1, (1, 0), True), (2, (0, 1), False), (2, (1, 1), True)])
def test_the_image_layer_s_product_computes_the_transposed_convolution(c_out, pad, bias, monkeypatch):
    monkeypatch.setattr(networks.ImageTransposedConv, "MAX_CHANNELS", 2)  # the product for both channel counts
    torch.manual_seed(0)
    fast = networks.ImageTransposedConv(6, c_out, 4, stride=2, padding=1, output_padding=pad, bias=bias).double()
    plain = nn.ConvTranspose2d(6, c_out, 4, stride=2, padding=1, output_padding=pad, bias=bias).double()
    plain.load_state_dict(fast.state_dict())  # the same parameters and names: checkpoints do not change
    x = torch.randn(3, 6, 5, 7, dtype=torch.float64)
    ones = torch.zeros(1, 6, 1, 1, dtype=torch.float64)
    ones[0, 0, 0, 0] = 1.0
    with torch.no_grad():
        expected = plain(x)
        library = nn.ConvTranspose2d.forward
        monkeypatch.setattr(nn.ConvTranspose2d, "forward", lambda *a: pytest.fail("the product must not call the library's layer"))
        for layout in (torch.contiguous_format, torch.channels_last):
            got = fast(x.contiguous(memory_format=layout))
            assert got.shape == (3, c_out, 10 + pad[0], 14 + pad[1])
            torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
        taps = fast(ones)[0, :, :, :] - (fast.bias.view(-1, 1, 1) if bias else 0)  # one input pixel: its 4x4 taps, cropped by 1
        monkeypatch.setattr(nn.ConvTranspose2d, "forward", library)
    torch.testing.assert_close(taps[:, :2, :2], fast.weight[0, :, 1:3, 1:3], rtol=0, atol=1e-12)
    xg = x.clone().requires_grad_()  # with gradients, the library's layer: the same function and gradient
    fast(xg).square().sum().backward()
    xp = x.clone().requires_grad_()
    plain(xp).square().sum().backward()
    torch.testing.assert_close(xg.grad, xp.grad)
    torch.testing.assert_close(fast.weight.grad, plain.weight.grad)


def test_a_conv_decoder_decodes_the_same_with_and_without_the_image_layer_s_product(monkeypatch):
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="conv", width=8, latent_dim=4).for_data((1, 28, 28))).eval()
    assert isinstance(model.decoder.body[-1], networks.ImageTransposedConv)
    z = torch.randn(7, 4)
    calls = []
    library = nn.ConvTranspose2d.forward
    monkeypatch.setattr(nn.ConvTranspose2d, "forward", lambda self, *a: calls.append(type(self)) or library(self, *a))
    with torch.no_grad():
        fast = model.decode(z).mean
        assert calls == [nn.ConvTranspose2d] * 2  # the two inner layers are the library's, the last the product
        monkeypatch.setattr(networks.ImageTransposedConv, "enabled", False)
        plain = model.decode(z).mean
        assert calls.count(networks.ImageTransposedConv) == 1
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)
    assert fast.is_contiguous() and fast.shape == (7, 1, 28, 28)


def test_conv_config_errors():
    with pytest.raises(ConfigError, match=r"--arch conv needs images \(C, H, W\) but the data has shape \(5,\)"):
        ModelConfig(arch="conv").for_data((5,))
    with pytest.raises(ConfigError, match="halves a 8x8 image below 1 pixel"):
        ModelConfig(arch="conv", depth=5).for_data((1, 8, 8))


def test_auto_likelihood_follows_the_data():
    assert ModelConfig().for_data((1, 8, 8)).likelihood == "bernoulli"
    tabular = ModelConfig().for_data((5,))
    assert (tabular.likelihood, tabular.output_activation) == ("gaussian", "identity")
    assert ModelConfig(likelihood="gaussian").for_data((1, 2, 2)).output_activation == "sigmoid"


def test_denoising_autoencoder_corrupts_only_while_training():
    model = build_model(resolve_model_config("dae").for_data((1, 4, 4)))
    x = torch.rand(3, 1, 4, 4)
    model.train()
    noisy = model(x, torch.Generator().manual_seed(0)).z
    model.eval()
    clean = model(x, torch.Generator().manual_seed(0)).z
    assert not torch.allclose(noisy, clean)
    torch.testing.assert_close(clean, model.encode(x).mode())


def test_family_defaults():
    assert resolve_model_config("iwae").samples == 5 and resolve_model_config("sparse-ae").latent_activation == "relu"
    assert MODELS["beta-vae"].objective_defaults == {"beta": 4.0}


def test_the_disentanglement_networks_are_the_papers():
    conv = build_model(PRESETS["locatello-conv"].model.for_data((1, 64, 64)))
    convs = [m for m in conv.encoder.body if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [(32, (4, 4), (2, 2)), (32, (4, 4), (2, 2))] + [
        (64, (4, 4), (2, 2))
    ] * 2
    assert [m.out_features for m in conv.encoder.dense if isinstance(m, nn.Linear)] == [256] and conv.encoder.head.out_features == 20
    assert [m.out_features for m in conv.decoder.fc if isinstance(m, nn.Linear)] == [256, 64 * 4 * 4]  # the mirror image
    assert conv(torch.rand(2, 1, 64, 64)).likelihood.mean.shape == (2, 1, 64, 64)
    mlp = build_model(PRESETS["chen-mlp"].model.for_data((1, 64, 64)))
    assert [m.out_features for m in mlp.encoder if isinstance(m, nn.Linear)] == [1200, 1200, 20]
    assert [m.out_features for m in mlp.decoder if isinstance(m, nn.Linear)] == [1200, 1200, 1200, 64 * 64]


def test_a_network_preset_takes_any_family_and_recipes_pin_theirs():
    assert resolve_model_config(preset="locatello-conv").kind == "vae"
    iwae = resolve_model_config(model="iwae", preset="locatello-conv")
    assert (iwae.kind, iwae.samples, iwae.conv_channels) == ("iwae", 5, (32, 32, 64, 64))  # the family's own defaults apply
    with pytest.raises(ConfigError, match="unknown model 'gan'"):
        resolve_model_config(model="gan", preset="chen-mlp")
    with pytest.raises(ConfigError, match="preset 'shapes-factor-vae' is a 'factor-vae' model, not 'vae'"):
        resolve_model_config(model="vae", preset="shapes-factor-vae")
    for name, preset in PRESETS.items():  # every recipe builds for the data it names
        if preset.data is not None:
            assert preset.model.input_shape is not None, name


def test_network_shape_options_are_checked():
    with pytest.raises(ConfigError, match="--conv-channels and --dense shape the convolutional networks; add --arch conv"):
        ModelConfig(dense=(256,))
    with pytest.raises(ConfigError, match="--decoder-hidden shapes the mlp decoder"):
        ModelConfig(arch="conv", decoder_hidden=(8,))
    with pytest.raises(ConfigError, match="--conv-channels gives 2 stages but --depth is 3"):
        ModelConfig(arch="conv", conv_channels=(4, 8), depth=3)
    with pytest.raises(ConfigError, match="must be positive"):
        ModelConfig(arch="conv", conv_channels=(4, 0))
    with pytest.raises(ConfigError, match="halves a 8x8 image below 1 pixel"):
        ModelConfig(arch="conv", conv_channels=(2, 2, 2, 2, 2)).for_data((1, 8, 8))
    model = build_model(ModelConfig(arch="resnet", conv_channels=(3, 5), dense=(7, 6), latent_dim=2).for_data((1, 9, 10)))
    assert model(torch.rand(2, 1, 9, 10)).likelihood.mean.shape == (2, 1, 9, 10)  # odd sides with explicit stages too
