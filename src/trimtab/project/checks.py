"""What can be wrong with a project file, each said where it is and how to fix it.

One round reports everything. Pydantic finds the type errors; the checks that
types cannot express (names, references, files on disk) then run on every
part of the file that did type-check, so a wrong ``tier`` does not hide a
missing prompt file, in the same system or in another. A CI run that shows
one error per push wastes a morning.
"""

from __future__ import annotations

import copy
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from trimtab import plugins
from trimtab.errors import TrimtabError
from trimtab.project import yamlsource
from trimtab.project.alert_rules import check as check_alert_rules
from trimtab.project.budgets import check as check_budgets
from trimtab.project.evals import check_evals, check_review, check_sampling
from trimtab.project.governance import check as check_governance
from trimtab.project.models import (
    BUILTIN_PROVIDERS,
    FallbackSpec,
    ProjectFile,
    PromptTooLarge,
    RedactRuleSpec,
    ReleaseSpec,
    SystemSpec,
    read_prompt,
)
from trimtab.project.naming import NAME
from trimtab.project.naming import suggest as _suggest
from trimtab.runtime.config import ENV_VAR, TieredPriceSpec

#: Request fields of OpenAI Chat Completions and Anthropic Messages: written
#: straight under ``release:`` they were meant for ``params:``.
CALL_PARAMS = frozenset({
    "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "seed", "stop",
    "stop_sequences", "n", "response_format", "tools", "tool_choice", "parallel_tool_calls",
    "frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs",
    "reasoning_effort", "thinking", "service_tier", "modalities", "prediction", "verbosity",
    "web_search_options",
})

#: Top-level fields that map names to entries; an entry with a type error is
#: set aside so the others are still checked.
_SECTIONS = {
    name for name, field in ProjectFile.model_fields.items()
    if typing.get_origin(field.annotation) is dict
}
_KIND_NOUNS = {
    "float_type": "a number", "int_type": "a whole number", "string_type": "a string",
    "bool_type": "true or false", "dict_type": "a mapping", "model_type": "a mapping",
    "list_type": "a list",
}


def validate(
    data: dict, located: yamlsource.Located, root: Path
) -> tuple[ProjectFile | None, list[str]]:
    """The typed file (None when it has type errors) and every problem, in file order."""
    try:
        spec: ProjectFile | None = ProjectFile.model_validate(data)
        errors: list[dict[str, Any]] = []
    except ValidationError as exc:
        spec, errors = None, exc.errors()
    problems = describe_all(errors, located)
    checkable, partial = (spec, {}) if spec is not None else _checkable(data, errors)
    problems += _check_semantics(checkable, partial, data, located, root)
    return spec, problems


def in_file_order(problems: list[str], file_name: str) -> list[str]:
    """Top to bottom, as a person fixes them; messages without a position first."""
    def position(problem: str) -> tuple[int, int]:
        match = re.match(r":(\d+):(\d+): ", problem[len(file_name):])
        return (int(match[1]), int(match[2])) if match else (0, 0)

    return sorted(problems, key=position)


# --- type errors -----------------------------------------------------------


def describe_all(errors: list[dict[str, Any]], located: yamlsource.Located) -> list[str]:
    """One message per field: a value that fits no member of a union (``input_mtok:
    float | tiers``) gives pydantic one error per member, and a person one."""
    unions: dict[tuple, list[tuple[tuple, dict[str, Any]]]] = {}
    messages = []
    for err in errors:
        path, union = _untagged(err, located.data)
        if union is None:
            messages.append(_describe(err, path, located))
        else:
            unions.setdefault(union, []).append((path, err))
    for union, group in unions.items():
        # A mapping given for ``float | tiers`` fails as a float, and inside the
        # tiers model: the inner errors are the ones that say what to fix.
        inner = [(p, e) for p, e in group if p != union or e["type"] not in _KIND_NOUNS]
        if inner:
            messages += [_describe(err, path, located) for path, err in inner]
        else:
            messages.append(_describe_union(union, [e for _, e in group], located))
    return messages


def _untagged(err: dict[str, Any], data: Any) -> tuple[tuple, tuple | None]:
    """The error's path in the file without pydantic's union member tags
    (``input_mtok.float``), and the path of the union when there was one. A part
    the data does not have is a tag, except the last part of a missing key."""
    loc, node, path, union = tuple(err["loc"]), data, [], None
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif err["type"] == "missing" and i == len(loc) - 1:
            pass
        elif part == "[key]":  # the key itself is wrong, not a union member
            continue
        else:
            if union is None:
                union = tuple(path)
            continue
        path.append(part)
    return tuple(path), union


def _describe(err: dict[str, Any], loc: tuple, located: yamlsource.Located) -> str:
    kind = err["type"]
    field = yamlsource.dotted(loc)
    given = err.get("input")
    where = located.where(loc)
    if kind == "extra_forbidden":
        allowed = _allowed_keys(tuple(err["loc"])[:-1])
        hint = _misplaced(loc, located.data) or _suggest(str(loc[-1]), allowed)
        return (
            f"{located.where(loc, key=True)}: {field}: unknown key {loc[-1]!r}.{hint} "
            f"Allowed here: {', '.join(allowed)}."
        )
    if kind == "missing":
        return (
            f"{located.where(loc[:-1])}: {field}: required key {loc[-1]!r} is missing. "
            f"Fix: add `{loc[-1]}:` under {yamlsource.dotted(loc[:-1])}."
        )
    quoted = _quoted(err, loc)
    if quoted:
        return f"{where}: {field}: {quoted}"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        hint = _suggest(given, re.findall(r"'([^']*)'", expected)) if isinstance(given, str) else ""
        return f"{where}: {field}: {given!r} is not allowed.{hint} Fix: use one of {expected}."
    return f"{where}: {field}: {err['msg'].lower()}, got {given!r}. Fix: {_fix(kind)}"


def _describe_union(loc: tuple, group: list[dict[str, Any]], located: yamlsource.Located) -> str:
    given = group[0].get("input")
    for err in group:
        quoted = _quoted(err, loc)
        if quoted:
            return f"{located.where(loc)}: {yamlsource.dotted(loc)}: {quoted}"
    nouns = list(dict.fromkeys(_KIND_NOUNS[e["type"]] for e in group))
    return (
        f"{located.where(loc)}: {yamlsource.dotted(loc)}: expected {' or '.join(nouns)}, "
        f"got {given!r}. Fix: see docs/project-file.md for this field."
    )


def _quoted(err: dict[str, Any], loc: tuple) -> str | None:
    """``tier: "1"``: strict types refuse text that looks like the right value."""
    given = err.get("input")
    if not isinstance(given, str) or len(given) > 40:
        return None
    try:
        value = yaml.safe_load(given)
    except yaml.YAMLError:
        return None
    kind = err["type"]
    if kind == "literal_error":
        options = re.split(r", | or ", err.get("ctx", {}).get("expected", ""))
        fits = not isinstance(value, str) and repr(value) in options
    else:
        fits = {"int_type": type(value) is int, "float_type": type(value) in (int, float),
                "bool_type": type(value) is bool}.get(kind, False)
    if not fits:
        return None
    plain = str(value).lower() if type(value) is bool else given.strip()
    written = f"`{loc[-1]}: {plain}`" if loc and isinstance(loc[-1], str) else f"`{plain}`"
    what = "true or false" if type(value) is bool else "a number"
    fix = f"drop the quotes: {written}" if plain == given.strip() else f"write {written}"
    return f"{given!r} is in quotes, so it is text, not {what}. Fix: {fix}."


def _misplaced(loc: tuple, data: Any) -> str:
    """An unknown key that is a known field one level elsewhere: say where it goes."""
    owner = _annotation_at(loc[:-1])
    key = str(loc[-1])
    if owner in (ReleaseSpec, FallbackSpec) and key in CALL_PARAMS:
        example = _flow({key: _value_at(data, loc)})
        return (f" {key!r} is a call parameter: put it under `params:`"
                f"{f', e.g. params: {example}' if example else ''}.")
    if owner is SystemSpec and key in CALL_PARAMS:
        return f" {key!r} is a call parameter: put it under `release:`, in `params:`."
    if owner is SystemSpec and key in ReleaseSpec.model_fields:
        return f" {key!r} describes a release: put it under `release:`."
    return ""


def _flow(value: Any) -> str:
    """``{temperature: 0}``: a short YAML example, or nothing when it would be long."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1000, sort_keys=False).strip()
    return text if len(text) <= 60 and "\n" not in text else ""


def _fix(kind: str) -> str:
    return {
        "string_type": "write a string (quote it if it looks like a number or yes/no).",
        "int_type": "write a whole number without quotes.",
        "bool_type": "write true or false.",
        "dict_type": "write a mapping of `key: value` lines, indented under this key.",
        "list_type": "write a list, one `- item` per line.",
        "float_type": "write a number.",
        "finite_number": "write a number; .nan and .inf would switch this check off.",
    }.get(kind, "see docs/project-file.md for this field.")


def _annotation_at(loc: tuple) -> Any:
    """The type at ``loc`` (pydantic's, union tags included), by walking the models."""
    annotation: Any = ProjectFile
    for part in loc:
        annotation = _unwrap_optional(annotation)
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields = {f.alias or n: f for n, f in annotation.model_fields.items()}
            field = fields.get(str(part))
            annotation = field.annotation if field else None
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        elif origin is list:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            named = {getattr(a, "__name__", None): a for a in typing.get_args(annotation)}
            annotation = named.get(part)
        else:
            return None
    return _unwrap_optional(annotation)


def _allowed_keys(loc: tuple) -> list[str]:
    """The field names a mapping at ``loc`` may have."""
    annotation = _annotation_at(loc)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or name for name, f in annotation.model_fields.items()]
    return []


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _value_at(data: Any, loc: tuple) -> Any:
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


# --- the parts that type-check -----------------------------------------------


def _checkable(
    data: dict, errors: list[dict[str, Any]]
) -> tuple[ProjectFile | None, dict[Any, tuple[str | None, ReleaseSpec | None, list]]]:
    """The file without its unknown keys and without the entries that have type
    errors, as a valid ProjectFile; plus, for each system set aside, what of it
    can still be checked (kind, release, redact rules)."""
    clean = copy.deepcopy(data)
    failed = []
    for err in errors:
        loc = tuple(err["loc"])
        parent = _value_at(clean, loc[:-1])
        if err["type"] == "extra_forbidden" and isinstance(parent, dict) and loc[-1] in parent:
            del parent[loc[-1]]  # unknown keys mean nothing: the rest stays checkable
        else:
            failed.append(loc)
    set_aside: dict[str, dict] = {}
    for loc in failed:
        if not loc:
            continue
        section = clean.get(loc[0])
        if loc[0] in _SECTIONS and len(loc) > 1 and isinstance(section, dict):
            if loc[1] in section:
                set_aside.setdefault(loc[0], {})[loc[1]] = section.pop(loc[1])
        else:
            clean.pop(loc[0], None)
    if not isinstance(clean.get("project"), str):
        clean["project"] = ""  # required, and no check reads it
    partial = {}
    for name, raw in set_aside.get("systems", {}).items():
        if not isinstance(raw, dict):
            continue
        kind = raw.get("kind", "llm")
        partial[name] = (
            kind if kind in ("llm", "classic") else None,
            _typed(ReleaseSpec, raw.get("release")),
            _typed(list[RedactRuleSpec], raw.get("redact", [])) or [],
        )
    return _typed(ProjectFile, clean), partial


def _typed(annotation: Any, value: Any) -> Any:
    try:
        return TypeAdapter(annotation).validate_python(value, strict=True)
    except ValidationError:
        return None


# --- what types cannot say -----------------------------------------------------


def _check_semantics(
    spec: ProjectFile | None,
    partial: dict[Any, tuple[str | None, ReleaseSpec | None, list]],
    data: dict,
    located: yamlsource.Located,
    root: Path,
) -> list[str]:
    """Names, references between sections, files on disk."""
    problems: list[str] = []

    def problem(loc: tuple, message: str, *, key: bool = False) -> None:
        problems.append(f"{located.where(loc, key=key)}: {yamlsource.dotted(loc)}: {message}")

    # Every declared provider counts, even one set aside for a type error: a
    # system naming it has no reference problem.
    declared = data.get("providers")
    providers = {*BUILTIN_PROVIDERS, *(declared if isinstance(declared, dict) else {})}
    if spec is not None:
        _check_environments(spec.environments, problem)
        for i, env in enumerate(spec.allow_simulated):
            if env not in spec.environments:
                problem(("allow_simulated", i), f"unknown environment {env!r}. Fix: use one of "
                        f"{', '.join(spec.environments)}.")
        _check_providers(spec, problem)
        _check_kinds(spec, problem)
        for name, system in spec.systems.items():
            _check_system(name, system.kind, system.release, system.redact, providers, root,
                          problem)
            check_evals(name, system.evals, spec.environments, providers, root, problem)
            check_review(name, system.review, spec.environments, problem)
            check_sampling(name, system.scoring, spec.environments, providers, root, problem)
        check_alert_rules(spec, problem)
        check_budgets(spec, problem)
        check_governance(spec, problem)
        _check_gateway(spec, problem)
    for name, (kind, release, redact) in partial.items():
        _check_system(name, kind, release, redact, providers, root, problem)
    return problems


#: The system name the gateway records passthrough calls under (trimtab.sdk.call_options).
RESERVED_SYSTEMS = {"passthrough"}


def _check_gateway(spec: ProjectFile, problem) -> None:
    """Passthrough must resolve at start-up, not as a 500 on the first request."""
    for name in spec.systems:
        if name in RESERVED_SYSTEMS:
            problem(("systems", name), f"{name!r} is reserved: the gateway records calls to "
                    "models outside trimtab/<system> under it. Fix: rename the system.", key=True)
    default = spec.gateway.default_provider
    if default is not None and default not in spec.providers:
        declared = [n for n, p in spec.providers.items() if p.kind != "simulated"]
        problem(("gateway", "default_provider"), f"unknown provider {default!r}."
                f"{_suggest(default, spec.providers)} Fix: declare it under `providers:` or "
                f"use one of: {', '.join(declared) or '(none declared)'}.")


def _check_environments(environments: list[str], problem) -> None:
    if not environments:
        problem(("environments",), "at least one environment is needed. "
                "Fix: environments: [dev, staging, production]")
    seen: set[str] = set()
    for i, env in enumerate(environments):
        if not NAME.match(env):
            problem(("environments", i), f"{env!r} is not a valid name. Fix: use lowercase "
                    "letters, digits, '.', '_' or '-'.")
        if env in seen:
            problem(("environments", i), f"environment {env!r} is listed twice. Fix: remove one.")
        seen.add(env)


_SECRET_HEADERS = {"authorization", "api-key", "x-api-key", "proxy-authorization"}


def _check_providers(spec: ProjectFile, problem) -> None:
    """Keys stay out of the file; runtime settings make sense for the kind."""
    for name, provider in spec.providers.items():
        loc = ("providers", name)
        if provider.kind == "anthropic" and provider.api_key_env is None:
            problem(loc, "an Anthropic provider needs `api_key_env:`, the name of the "
                    "environment variable that holds the key.")
        if provider.api_key_env is not None and not ENV_VAR.match(provider.api_key_env):
            problem(loc + ("api_key_env",), "this must be the NAME of an environment variable "
                    "(e.g. OPENAI_API_KEY), never the key itself. Fix: export the key in that "
                    "variable and write its name here.")
        if provider.simulate is not None and provider.kind != "simulated":
            problem(loc + ("simulate",), f"`simulate:` only applies to kind: simulated, this "
                    f"provider is kind: {provider.kind}. Fix: remove it.", key=True)
        for header in provider.headers:
            if header.lower() in _SECRET_HEADERS:
                problem(loc + ("headers", header), "a credential header must not be written in "
                        "the project file. Fix: put the key in an environment variable, name it "
                        "in `api_key_env:` (and `api_key_header:` if it is not a Bearer token).",
                        key=True)
        for model, price in provider.prices.items():
            for field, value in price:
                if isinstance(value, TieredPriceSpec):
                    starts = [t.start for t in value.tiers]
                    if starts != sorted(set(starts)):
                        problem(loc + ("prices", model, field, "tiers"), "tiers must be listed "
                                "by increasing `start`, each start once. Fix: reorder them.")


def _check_kinds(spec: ProjectFile, problem) -> None:
    """Provider and channel kinds: built in or from an installed package (entry points),
    and loadable, so a missing or broken plugin shows here and not on the first call."""
    sections = [("providers", plugins.PROVIDERS, spec.providers),
                ("channels", plugins.CHANNELS, spec.channels)]
    for section, group, entries in sections:
        for name, entry in entries.items():
            loc = (section, name, "kind")
            found = plugins.find(group, entry.kind)
            if found is None:
                known = plugins.names(group)
                problem(loc, f"unknown {plugins.GROUPS[group]} {entry.kind!r}."
                        f"{_suggest(entry.kind, known)} Fix: use one of {', '.join(known)}, or "
                        f"install the package that provides {entry.kind!r} (`trimtab plugins` "
                        "lists what is installed).")
                continue
            try:
                plugins.load(group, entry.kind)
            except TrimtabError as exc:
                problem(loc, str(exc))
            if entry.options and found.distribution == plugins.OWN:
                problem((section, name, "options"), f"`options:` is read by plugin kinds only; "
                        f"kind {entry.kind} ignores it. Fix: remove it.", key=True)


def _check_system(
    name: Any,
    kind: str | None,
    release: ReleaseSpec | None,
    redact: list[RedactRuleSpec],
    providers: set[str],
    root: Path,
    problem,
) -> None:
    """One system; ``kind`` or ``release`` is None when it did not type-check."""
    loc = ("systems", name)
    if isinstance(name, str) and not NAME.match(name):
        problem(loc, f"{name!r} is not a valid system name. Fix: use lowercase letters, "
                "digits, '.', '_' or '-' (e.g. complaint-router).", key=True)
    seen: set[str] = set()
    for i, rule in enumerate(redact):
        if not NAME.match(rule.name) or rule.name in seen:
            problem(loc + ("redact", i, "name"), f"{rule.name!r} must be a unique name of "
                    "lowercase letters, digits, '.', '_' or '-' (e.g. employee-id).")
        seen.add(rule.name)
        _check_regex(rule.pattern, loc + ("redact", i, "pattern"), problem)
    if release is None:
        return
    rloc = loc + ("release",)
    if kind == "llm":
        for required in ("provider", "model"):
            if getattr(release, required) is None:
                problem(rloc, f"an llm system needs `{required}:` in its release. "
                        f"Fix: add `{required}: ...` (e.g. provider: simulated, "
                        "model: sim-1).")
    # A classic release may declare no artefact (a model served elsewhere, a rules
    # system, a trial before the weights exist); every artefact it declares must exist.
    refs = [(rloc + ("provider",), release.provider)] + [
        (rloc + ("fallbacks", i, "provider"), f.provider) for i, f in enumerate(release.fallbacks)
    ]
    for ref_loc, ref in refs:
        if ref is not None and ref not in providers:
            problem(ref_loc, f"unknown provider {ref!r}.{_suggest(ref, providers)} Fix: "
                    "declare it under `providers:` or use one of: "
                    f"{', '.join(sorted(providers))}.")
    for section in ("prompts", "artefacts"):
        for key, rel in getattr(release, section).items():
            file_loc = rloc + (section, key)
            target = root / rel
            if not target.is_file():
                problem(file_loc, f"file {rel!r} does not exist (looked in {root}). "
                        "Fix: create it or correct the path, relative to trimtab.yaml.")
            elif section == "prompts":
                try:
                    read_prompt(target)
                except PromptTooLarge as exc:
                    problem(file_loc, f"prompt file {rel!r} is {exc}. Fix: shorten it; "
                            "reference material belongs in the call's input, not the prompt.")
                except UnicodeDecodeError:
                    problem(file_loc, f"prompt file {rel!r} is not UTF-8 text.")
    _check_simulate(release, rloc, problem)


_SIM_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
_SIM_VARIABLES = {"keyword", "match", "input", "model"}


def _check_simulate(release: ReleaseSpec, rloc: tuple, problem) -> None:
    """A simulated model's rules: each can match, each can answer, placeholders exist."""
    simulate = release.simulate
    if simulate is None:
        return
    sloc = rloc + ("simulate",)
    for i, rule in enumerate(simulate.rules):
        loc = sloc + ("rules", i)
        if not rule.when and rule.regex is None:
            problem(loc, "a rule needs `when:` (keywords) or `regex:`. Fix: add "
                    "when: [leak, seal].")
        if rule.reply is None and rule.tool is None:
            problem(loc, "a rule needs `reply:` (text or a JSON mapping) or `tool:`.")
        groups = _check_regex(rule.regex, loc + ("regex",), problem) if rule.regex else set()
        _check_placeholders(rule.reply, loc + ("reply",), _SIM_VARIABLES | groups, problem)
    _check_placeholders(simulate.default, sloc + ("default",), _SIM_VARIABLES, problem)


def _check_regex(pattern: str, loc: tuple, problem) -> set[str]:
    try:
        return set(re.compile(pattern).groupindex)
    except re.error as exc:
        problem(loc, f"not a valid regular expression: {exc}. Fix: check brackets and escapes "
                "(in YAML, single-quote the pattern so backslashes stay as written).")
        return set()


def _check_placeholders(reply: Any, loc: tuple, allowed: set[str], problem) -> None:
    texts = [reply] if isinstance(reply, str) else []
    if isinstance(reply, dict):
        texts = [v for v in _leaves(reply) if isinstance(v, str)]
    for text in texts:
        for unknown in sorted(set(_SIM_PLACEHOLDER.findall(text)) - allowed):
            problem(loc, f"unknown placeholder {{{{{unknown}}}}}. Fix: use one of "
                    f"{', '.join(sorted(allowed))} (regex named groups count too).")


def _leaves(value: Any):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value
