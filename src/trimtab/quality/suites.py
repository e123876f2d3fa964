"""Preparing a suite: the dataset read and checked against the release and the scorers
before any provider call is spent, so a bad case costs a message, not a run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trimtab.errors import TrimtabError
from trimtab.project.evals import EvalSuiteSpec
from trimtab.project.models import Project
from trimtab.project.naming import suggest
from trimtab.quality import datasets
from trimtab.quality.datasets import Case, Dataset, DatasetError
from trimtab.quality.judge import Judge
from trimtab.quality.scorers import Scorer, build
from trimtab.runtime.templates import variables as placeholders


@dataclass
class PreparedSuite:
    system: str
    name: str
    spec: EvalSuiteSpec
    dataset: Dataset
    scorers: list[Scorer]


def suites_of(project: Project, system: str, only: str | None = None) -> dict[str, EvalSuiteSpec]:
    declared = project.system(system).evals
    if not declared:
        raise TrimtabError(
            f"system {system!r} declares no eval suites. Fix: add `evals:` to it in "
            f"{project.path.name} (see docs/evals.md).")
    if only is None:
        return dict(declared)
    if only not in declared:
        raise TrimtabError(f"system {system!r} has no eval suite {only!r}."
                           f"{suggest(only, declared)} Suites: {', '.join(declared)}.")
    return {only: declared[only]}


def prepare(project: Project, system: str, name: str, spec: EvalSuiteSpec,
            release_spec: dict[str, Any], *, prompts: bool = True) -> PreparedSuite:
    """Everything that can be known before calling: DatasetError lists what is wrong.
    ``prompts=False``: the cases are scored on given predictions (a classic model), so
    they are checked against the scorers only."""
    dataset = datasets.load(project.root, spec.dataset)
    scorers = []
    for i, scorer_spec in enumerate(spec.scorers):
        try:
            scorers.append(build(scorer_spec, project.root,
                                 lambda s: Judge(s, project.root, project.provider(s.provider))))
        except TrimtabError as exc:
            raise TrimtabError(f"{project.path.name}: systems.{system}.evals.{name}.scorers[{i}]"
                               f": {exc}") from None
    problems = (check_cases(dataset, release_spec, scorers) if prompts
                else _scorer_problems(dataset, scorers))
    if problems:
        raise DatasetError(dataset.path, datasets.by_line(problems))
    return PreparedSuite(system, name, spec, dataset, scorers)


def check_cases(dataset: Dataset, release_spec: dict[str, Any], scorers: list[Scorer]
                ) -> list[str]:
    """Each case against the release's prompts (every variable used, none missing) and
    against the scorers (an ``expected`` where one is compared with)."""
    prompts = release_spec.get("prompts") or {}
    used = {role: placeholders(_content(prompts[role])) for role in ("system", "user")
            if role in prompts}
    all_used = sorted({v for names in used.values() for v in names})
    problems = []
    for case in dataset.cases:
        where = f"{dataset.path}:{case.line}: case {case.id!r}"
        for problem in _case_problems(case, used, all_used, prompts):
            problems.append(f"{where}: {problem}")
        for scorer in scorers:
            problem = scorer.check(case)
            if problem:
                problems.append(f"{where}: {problem}")
    return problems


def _scorer_problems(dataset: Dataset, scorers: list[Scorer]) -> list[str]:
    return [f"{dataset.path}:{case.line}: case {case.id!r}: {problem}"
            for case in dataset.cases for scorer in scorers
            if (problem := scorer.check(case))]


def _case_problems(case: Case, used: dict[str, list[str]], all_used: list[str],
                   prompts: dict[str, Any]) -> list[str]:
    problems = []
    for name in case.variables:
        if name not in all_used:
            problems.append(
                f"variable {name!r} is not used by the release's prompts "
                f"(they use: {', '.join(all_used) or 'none'}).{suggest(name, all_used)} Fix: "
                "rename or remove it, or add {{" + name + "}} to a prompt.")
    if case.messages is None:
        if "user" not in prompts:
            problems.append("the release has no `user` prompt, so the case needs `messages`.")
        needed = {role: names for role, names in used.items()}
    else:
        brings_system = any(m["role"] == "system" for m in case.messages)
        needed = {} if brings_system else {k: v for k, v in used.items() if k == "system"}
    for role, names in needed.items():
        missing = [n for n in names if n not in case.variables]
        if missing:
            path = prompts[role]["path"] if isinstance(prompts[role], dict) else role
            problems.append(f"the {role} prompt ({path}) needs variable"
                            f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}. Fix: add "
                            f"them under `variables`.")
    return problems


def _content(entry: Any) -> str:
    return entry["content"] if isinstance(entry, dict) else str(entry)
