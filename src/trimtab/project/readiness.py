"""What a project needs from where it runs before its calls work as declared.

Two things a valid trimtab.yaml cannot promise on its own: that each
provider's key variable is set on this machine (else its calls fail with 503
``provider_not_configured``), and that each model a release calls has a price
(else its calls are recorded with cost unknown). ``trimtab validate`` prints
both; the gateway and the SDK log them when they start, so neither shows up
first as a failed or unpriced call in production.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from trimtab.project.models import Project
from trimtab.runtime.config import ProviderSpec
from trimtab.runtime.cost import priced, unpriced_fix


def unset_keys(project: Project, environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per provider whose key variable is unset here, with the fix."""
    environ = os.environ if environ is None else environ
    lines = []
    for name, spec in project.spec.providers.items():
        variable = spec.api_key_env
        if spec.kind == "simulated" or not variable or environ.get(variable):
            continue
        users = sorted(system for system, s in project.spec.systems.items()
                       if name in _providers_of(s.release))
        used = f" (used by {', '.join(users)})" if users else ""
        lines.append(f"provider {name!r}{used}: its key variable {variable} is not set, so its "
                     f"calls fail with 503 provider_not_configured. Fix: export "
                     f"{variable}=<key> where the runtime runs.")
    return lines


def unpriced_models(project: Project) -> list[str]:
    """One line per (provider, model) a release calls that has no price, with the fix."""
    lines, seen = [], set()
    for system, spec in project.spec.systems.items():
        release = spec.release
        if not release.provider or not release.model:
            continue  # a classic model: nothing is called
        price_as = release.simulate.price_as if release.simulate else None
        chain = [(release.provider, release.model)]
        chain += [(f.provider, f.model) for f in release.fallbacks]
        for provider, model in chain:
            entry = project.provider(provider)
            kind = entry["kind"]
            if (provider, model) in seen:
                continue
            seen.add((provider, model))
            settings = ProviderSpec.model_validate({k: v for k, v in entry.items()
                                                    if k != "name"})
            if priced(model, settings, price_as=price_as):
                continue
            fix = (f"Fix: set systems.{system}.release.simulate.price_as to the real model "
                   "it stands in for." if kind == "simulated" else unpriced_fix(model, provider))
            lines.append(f"{system}: model {model!r} on provider {provider!r} has no price, so "
                         f"its calls are recorded with cost unknown. {fix}")
    return lines


def readiness(project: Project, environ: Mapping[str, str] | None = None) -> list[str]:
    return unset_keys(project, environ) + unpriced_models(project)


def _providers_of(release) -> set[str]:
    return {release.provider, *(f.provider for f in release.fallbacks)} - {None}
