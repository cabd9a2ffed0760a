"""The app's layer rule (issue 12): ``app.py``, ``pages/`` and ``dashboard/`` are Streamlit glue and
never import torch; every tensor operation is in flowcore."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    """The top-level package of every import in a file, wherever in the file it is."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_app_layer_never_imports_torch():
    files = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")),
             *sorted((ROOT / "dashboard").glob("*.py"))]
    assert len(files) > 15  # the rule reads the app's files, not an empty folder
    assert {f.relative_to(ROOT).as_posix() for f in files
            if "torch" in imported_modules(f)} == set()


def test_the_rule_sees_an_import_of_torch_anywhere_in_a_file(tmp_path):
    for source in ("import torch\n", "import torch.nn as nn\n", "from torch import nn\n",
                   "def f():\n    import torch\n"):
        (tmp_path / "m.py").write_text(source)
        assert "torch" in imported_modules(tmp_path / "m.py"), source
    (tmp_path / "m.py").write_text("import flowcore  # torch inside\nfrom .torch import x\n")
    assert "torch" not in imported_modules(tmp_path / "m.py")
