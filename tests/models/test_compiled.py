"""--compile: each network is one graph, compiled results equal eager ones, and where compiling cannot work the run
says so and trains eager."""

import json

import pytest
import torch
import torch._dynamo

from vaekit.cli import main
from vaekit.models import ModelConfig, build_model, compiled
from vaekit.run import layout

CASES = {
    "mlp": ModelConfig(hidden=(16,), latent_dim=4),
    "conv": ModelConfig(arch="conv", width=4, latent_dim=4),
    "resnet": ModelConfig(arch="resnet", width=4, latent_dim=4),
    "hvae": ModelConfig(kind="hvae", hidden=(16,), ladder_hidden=(8,), layer_dims=(4, 2)),
    "vq-vae": ModelConfig(kind="vq-vae", hidden=(16,), latent_dim=4, code_dim=2, codebook_size=8),
    "iaf": ModelConfig(hidden=(16,), latent_dim=4, flow="iaf", flow_steps=2),
}


def inputs_of_each_network(model: torch.nn.Module, x: torch.Tensor) -> dict[str, tuple]:
    """The positional inputs each network of ``model`` gets in one eager forward pass."""
    seen: dict[str, tuple] = {}
    nets = dict(compiled.networks(model))
    hooks = [net.register_forward_pre_hook(lambda _, args, name=name: seen.setdefault(name, args)) for name, net in nets.items()]
    model(x, torch.Generator().manual_seed(0))
    for hook in hooks:
        hook.remove()
    assert set(seen) == set(nets), "every network runs in the forward pass"
    return seen


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_network_is_one_graph_without_breaks(case):
    torch.manual_seed(0)
    model = build_model(CASES[case].for_data((1, 12, 12)))
    torch._dynamo.reset()
    for name, args in inputs_of_each_network(model, torch.rand(3, 1, 12, 12)).items():
        net = dict(compiled.networks(model))[name]
        explained = torch._dynamo.explain(net)(*args)
        assert explained.graph_break_count == 0 and explained.graph_count == 1, (name, explained.break_reasons)


def test_networks_are_what_has_parameters_and_no_likelihood_head():
    hvae = build_model(CASES["hvae"].for_data((1, 12, 12)))
    names = [name for name, _ in compiled.networks(hvae)]
    assert names[0] == "bottom_up.0" and "decoder" in names and "head" not in names
    assert sum(p.numel() for _, net in compiled.networks(hvae) for p in net.parameters()) == sum(p.numel() for p in hvae.parameters())


def test_double_backward_objectives_and_a_missing_compiler_train_eager_and_say_so(tmp_path, capsys, monkeypatch):
    assert compiled.eager_reason("contractive") == compiled.DOUBLE_BACKWARD["contractive"]
    assert "gradient penalty" in compiled.eager_reason("rae", gradient_penalty=0.1)
    code = main(["train", "--model", "contractive-ae", "--data", "digits", "--epochs", "1", "--compile", "--out", str(tmp_path / "c")])
    assert code == 0
    assert "note: --compile: the contractive penalty differentiates the encoder's Jacobian, so this runs eager" in capsys.readouterr().err
    monkeypatch.setattr(compiled, "unavailable", lambda: "torch.compile does not work here (no C++ compiler)")
    assert main(["train", "--data", "digits", "--epochs", "1", "--compile", "--out", str(tmp_path / "v")]) == 0
    assert "--compile: torch.compile does not work here (no C++ compiler), so this runs eager" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "v"), "--iw-samples", "2", "--limit", "10", "--compile"]) == 0
    assert "vaekit: warning: --compile: torch.compile does not work here" in capsys.readouterr().err


@pytest.mark.slow
def test_compiled_training_and_evaluation_equal_eager_to_rounding_and_resume(tmp_path, capsys):
    common = ["train", "--data", "digits", "--arch", "conv", "--width", "4", "--epochs", "2", "--no-progress", "--no-images"]
    assert main([*common, "--out", str(tmp_path / "eager")]) == 0
    assert main([*common, "--epochs", "1", "--compile", "--out", str(tmp_path / "compiled")]) == 0
    assert "encoder, decoder compiled with torch.compile" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "compiled"), "--epochs", "2"]) == 0  # --compile is kept by the run
    assert "note: --compile: encoder, decoder compiled" in capsys.readouterr().err
    eager, comp = ([json.loads(ln) for ln in (tmp_path / r / layout.METRICS).read_text().splitlines()] for r in ("eager", "compiled"))
    assert [m["epoch"] for m in comp] == [1, 2]
    for a, b in zip(eager, comp, strict=True):
        assert a["valid_loss"] == pytest.approx(b["valid_loss"], rel=1e-4)
    reports = []
    for run in ("eager", "compiled"):
        flags = ["--compile"] if run == "compiled" else []
        assert main(["evaluate", str(tmp_path / run), "--iw-samples", "50", "--limit", "40", "--json", *flags]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0]["iwae_log_px"] == pytest.approx(reports[1]["iwae_log_px"], rel=1e-4)
