"""A release reads its prompts with the same bound as `trimtab validate`, so a
prompt that grew after the project was loaded is refused before it is stored."""

import pytest

import trimtab
from trimtab.releases.spec import resolve_spec


def test_a_prompt_that_outgrew_its_bound_after_loading_is_not_snapshotted(project_dir):
    project = trimtab.load_project(project_dir / "trimtab.yaml")
    assert resolve_spec(project, "complaint-router")["prompts"]["system"]["content"]
    (project_dir / "prompts" / "complaint-router.system.md").write_bytes(b"x" * 2_000_000)
    with pytest.raises(trimtab.TrimtabError) as info:
        resolve_spec(project, "complaint-router")
    assert str(info.value) == (
        "systems.complaint-router.release.prompts.system: prompt file "
        "'prompts/complaint-router.system.md' is 2,000,000 bytes; at most 1,048,576. "
        "Fix: shorten it, then release again.")
