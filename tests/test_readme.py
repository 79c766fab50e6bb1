"""The README's examples work as written: the Python example runs, every ``vaekit`` command in it
parses with the options it shows, and the latent-space commands run on a real (small) run."""

from __future__ import annotations

import re
import shlex

import pytest
from PIL import Image

from vaekit.cli import parse_command

from conftest import REPO, cli


def _readme() -> str:
    return (REPO / "README.md").read_text()


def readme_commands() -> list[list[str]]:
    """Every vaekit command of the README's bash blocks (continuations joined, comments dropped),
    as its argument list after ``vaekit`` (torchrun's ``-m vaekit`` included)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", _readme(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            for i, word in enumerate(words):
                if word == "vaekit" and (i == 0 or words[i - 1] in ("&&", "-m")):
                    commands.append(words[i + 1 :])
                    break
    return commands


def test_readme_python_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = [b for b in re.findall(r"```python\n(.*?)```", _readme(), re.S) if "/api/" not in b]
    assert blocks, "the README has no Python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["log_px_z"].shape == (4,) and namespace["images"].shape == (16, 1, 8, 8)
    assert namespace["report"].iwae_log_px >= namespace["report"].elbo


def test_readme_explorer_api_example_runs(tiny_digits_run):
    pytest.importorskip("uvicorn")
    from vaekit.serve.app import Server, allowed_hosts, make_app
    from vaekit.serve.explorer import Explorer

    (block,) = [b for b in re.findall(r"```python\n(.*?)```", _readme(), re.S) if "/api/" in b]
    namespace: dict = {}
    with Server(make_app(Explorer(tiny_digits_run, map_examples=50), allowed_hosts("127.0.0.1"))) as url:
        exec(compile(block.replace("http://127.0.0.1:8000", url), "README.md", "exec"), namespace)
    assert len(namespace["images"]) == 4 and all(i.startswith("data:image/png;base64,") for i in namespace["images"])


def test_the_readme_shows_many_commands():
    names = {argv[0] for argv in readme_commands() if argv}
    assert {"train", "evaluate", "sample", "reconstruct", "interpolate", "traverse", "attribute", "encode", "decode"} <= names


@pytest.mark.parametrize("argv", readme_commands(), ids=lambda argv: " ".join(argv)[:60])
def test_every_readme_command_parses(argv):
    if not argv:
        return  # the quickstart's bare `vaekit train`
    parse_command(argv[0], argv[1:])  # raises on an option the CLI does not have, or a value it cannot read


def test_the_latent_space_commands_run_as_written(trained_digits_run, tmp_path, capsys, monkeypatch):
    """The README's 'Exploring the latent space' block, on a digits VAE with 8 latents (RUN) with a me.png."""
    monkeypatch.chdir(tmp_path)
    Image.new("L", (20, 24), 128).save(tmp_path / "me.png")
    block = _readme().split("## Exploring the latent space")[1].split("```bash\n")[1].split("```")[0]
    ran = 0
    for line in block.replace("\\\n", " ").splitlines():
        argv = [str(trained_digits_run) if w == "RUN" else w for w in shlex.split(line, comments=True)][1:]
        if argv:
            code, _, err = cli(capsys, *argv)
            assert code == 0, (argv, err)
            ran += 1
    assert ran == 9  # the block as it stands: nine commands (attribute spans two lines)
