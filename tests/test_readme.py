"""The README's Python example runs as written."""

import re

from conftest import REPO


def test_readme_python_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert blocks, "the README has no Python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["log_px_z"].shape == (4,) and namespace["images"].shape == (16, 1, 8, 8)
    assert namespace["report"].iwae_log_px >= namespace["report"].elbo
