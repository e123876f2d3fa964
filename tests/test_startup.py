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


#: What `trimtab eval` imports before its first call (the CLI, the workspace, the
#: runner, the runtime): none of these may come with it. The price table (and the HTTP
#: client genai-prices imports) loads with the first priced call, fsspec with the first
#: artefact, the rest belong to other commands (bench/evals_vs_promptfoo.py).
EVAL_PATH = """
from trimtab.cli import app
from trimtab.workspace import connect
from trimtab.quality.evaluation import evaluate
from trimtab.quality.runner import run_suite
from trimtab.sdk.calling import Caller
from trimtab.runtime import router_for_release
"""
NOT_FOR_EVAL = (
    "genai_prices", "httpx2", "fsspec", "pygments", "uvicorn", "starlette", "fastapi",
    "opentelemetry", "prometheus_client", "numpy", "scipy", "trimtab.gateway", "trimtab.web",
    "trimtab.observe.metrics", "trimtab.observe.alerts", "trimtab.quality.gates",
    "trimtab.recorder.recorder", "trimtab.store.drift", "trimtab.store.calls",
    "trimtab.store.keys", "trimtab.project.scaffold",
)

EXACT_PROBE = """
import json, sys
{code}
names = {names!r}
print(json.dumps(sorted(n for n in names
                        if n in sys.modules or any(m.startswith(n + ".") for m in sys.modules))))
"""


def test_the_eval_path_loads_only_what_eval_needs():
    script = EXACT_PROBE.format(code=EVAL_PATH, names=NOT_FOR_EVAL)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_price_table_loads_on_first_use_and_names_its_version():
    code = """
import json, sys
from trimtab.runtime import cost
before = "genai_prices" in sys.modules
table = cost.PRICE_TABLE
import genai_prices
print(json.dumps([before, table, genai_prices.__version__]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    before, table, version = json.loads(done.stdout.strip().splitlines()[-1])
    assert before is False
    assert table == f"genai-prices {version}"


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
