"""The README's dashboard screenshots (docs/img/dashboard-*.png), made again on demand.

    .venv/bin/python scripts/screenshots.py

Builds the example project in a temporary folder, routes a few hundred complaints
through it (with users and tags), draws and partly works a review sample, runs the
eval suite, generates a document, opens an incident with a note and asks for a
promotion that needs an approval; then serves it and photographs each main page
with Debian's chromium (Playwright; never a downloaded browser).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
SYSTEM = "complaint-router"
COMPLAINTS = [
    ("ACME GmbH", "K-200", "The charger sparks when plugged in."),
    ("Nordlicht AG", "L-15", "The lid seal leaks after two weeks."),
    ("Brix & Co", "K-200", "Invoice shows the wrong quantity."),
    ("Hafen KG", "P-9", "The pump is louder than the spec says."),
    ("Solis SA", "L-15", "Paint flakes off the housing."),
]
PAGES = [("/", "portfolio"), (f"/systems/{SYSTEM}", "system"), ("/calls", "calls"),
         (f"/reviews/{SYSTEM}", "review"), ("/approvals", "approvals"),
         ("/incidents", "incidents"), ("/audit", "audit")]
LONG = ("system", "audit", "calls")  # the top of these pages only


def populate(folder: Path):
    import trimtab
    from tests.helpers import promote_through
    from trimtab.project.scaffold import init_project

    os.environ["TRIMTAB_USER"] = "lena@example.com"
    init_project(folder)
    ws = trimtab.connect(folder)
    first, _ = ws.release(SYSTEM, note="first routing prompt")
    promote_through(ws, SYSTEM, first.id, "production")
    client = ws.system(SYSTEM)
    for i in range(240):
        customer, product, text = COMPLAINTS[i % len(COMPLAINTS)]
        client.run({"customer": customer, "product": product, "text": text},
                   user=f"agent-{i % 4}", tags={"channel": ("email", "phone", "portal")[i % 3]})
    ws.flush()
    ws.review_sample(SYSTEM, size=20)
    for verdict in ("pass", "pass", "fail", "pass", "pass", "pass"):
        ws.review(ws.review_next(SYSTEM).call.id, verdict, score=4 if verdict == "pass" else 2)
    ws.eval(SYSTEM)
    ws.documents(SYSTEM, kinds=["model-card", "technical-documentation"])
    incident = ws.open_incident(SYSTEM, severity="high", categories=["ai-act-serious"],
                                summary="A safety complaint was routed to billing")
    ws.note_incident(incident.id, "Routed by hand; customer called back.")
    prompt = folder / "prompts" / f"{SYSTEM}.system.md"
    prompt.write_text(prompt.read_text() + "\nSafety first: sparks, smoke, heat go to "
                      "electrical.\n")
    second, _ = ws.release(SYSTEM, note="safety keywords")
    promote_through(ws, SYSTEM, second.id, "staging")
    with open(folder / "trimtab.yaml", "a") as handle:
        handle.write("policies:\n  production:\n    approvals: 1\n")
    ws.promote(SYSTEM, second.id, "production", reason="safety keywords route to electrical")
    return ws


def main() -> int:
    from playwright.sync_api import sync_playwright

    from tests.helpers.gateway_server import running_app
    from trimtab.web.server import build

    with tempfile.TemporaryDirectory() as tmp:
        ws = populate(Path(tmp) / "project")
        with running_app(build(ws)) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            for path, name in PAGES:
                page.goto(url + path, wait_until="load")
                target = OUT / f"dashboard-{name}.png"
                page.screenshot(path=str(target), full_page=name not in LONG)
                print(f"wrote {target.relative_to(ROOT)}")
            browser.close()
        ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
