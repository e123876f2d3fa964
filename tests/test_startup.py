"""Start-up stays cheap: `import trimtab` and `trimtab --help` load no heavy library.

The time itself is measured in bench/startup.py; these checks name the module
that made it slow, which is what whoever broke it needs to know. The fix is
always a lazy import: export through ``_EXPORTS`` in trimtab/__init__.py, and
import the workspace, the store or a server library inside the command function.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import trimtab

HEAVY = (
    "sqlalchemy", "alembic", "pydantic", "httpx", "numpy", "scipy", "genai_prices", "fsspec",
    "uvicorn", "starlette", "fastapi", "httptools", "opentelemetry", "prometheus_client",
)

PROBE = """
import json, sys
{code}
heavy = {heavy!r}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))))
"""


def loaded_after(code: str) -> list[str]:
    script = PROBE.format(code=code, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_trimtab_loads_no_heavy_library():
    assert loaded_after("import trimtab") == []


def test_cli_help_loads_no_heavy_library():
    code = """
import contextlib, io
sys.argv = ["trimtab", "--help"]
from trimtab.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main()
"""
    assert loaded_after(code) == []


def test_every_public_name_imports_from_the_package():
    for name in trimtab.__all__:
        assert getattr(trimtab, name) is not None, name
    namespace: dict = {}
    exec(f"from trimtab import {', '.join(trimtab.__all__)}", namespace)
    assert namespace["connect"] is trimtab.connect
    assert set(trimtab.__all__) <= set(dir(trimtab))


def test_lazy_names_are_the_real_objects():
    from trimtab.store.engine import Store
    from trimtab.workspace import Workspace

    assert trimtab.Store is Store
    assert trimtab.Workspace is Workspace


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        trimtab.Nope  # noqa: B018
    with pytest.raises(ImportError):
        exec("from trimtab import Nope", {})
