"""Turning a system's declaration into a release: one canonical JSON snapshot.

The snapshot holds everything that changes behaviour (provider, model,
params, fallbacks, the full text of every prompt, the sha256 of every
artefact), so its sha256 is the release id: same content, same id.
"""

from __future__ import annotations

from typing import Any

from trimtab.errors import TrimtabError
from trimtab.jsontext import canonical_json, sha256_hex
from trimtab.project.models import Project, PromptTooLarge, read_prompt
from trimtab.releases.artefacts import ArtefactStore, file_sha256

SPEC_FORMAT = 1


def resolve_spec(project: Project, system: str, artefacts: ArtefactStore | None = None) -> dict:
    """The release content for ``system``; stores its artefacts when a store is given."""
    declared = project.system(system)
    release = declared.release
    spec: dict[str, Any] = {
        "format": SPEC_FORMAT,
        "system": system,
        "kind": declared.kind,
        "provider": project.provider(release.provider) if release.provider else None,
        "model": release.model,
        "params": dict(release.params),
        "prompts": {
            name: {"path": rel, "content": _prompt(project, system, name, rel)}
            for name, rel in release.prompts.items()
        },
        "fallbacks": [
            {"provider": project.provider(f.provider), "model": f.model, "params": dict(f.params)}
            for f in release.fallbacks
        ],
        "artefacts": {},
    }
    # Runtime settings join the snapshot only when set, so unchanged systems keep their ids.
    if release.simulate is not None:
        spec["simulate"] = release.simulate.model_dump(exclude_defaults=True)
    if declared.privacy():
        spec["privacy"] = declared.privacy()
    for name, rel in release.artefacts.items():
        source = project.root / rel
        stored = artefacts.put(source) if artefacts is not None else file_sha256(source)
        spec["artefacts"][name] = {"path": rel, "sha256": stored.sha256, "size": stored.size}
    return spec


def _prompt(project: Project, system: str, name: str, rel: str) -> str:
    """The prompt's text; a file that outgrew its bound since the project was
    loaded is refused here too, before any release stores it."""
    try:
        return read_prompt(project.root / rel)
    except PromptTooLarge as exc:
        raise TrimtabError(f"systems.{system}.release.prompts.{name}: prompt file {rel!r} is "
                           f"{exc}. Fix: shorten it, then release again.") from None


def release_id(spec: dict) -> tuple[str, str]:
    """(id, canonical JSON) for a spec."""
    text = canonical_json(spec)
    return sha256_hex(text), text
