"""Entry points: provider kinds, notification channels and scorers from other packages.

A package adds a provider kind (Bedrock, Vertex, an in-house endpoint), a
channel kind or a scorer without editing trimtab, by declaring an entry point
in its own pyproject.toml::

    [project.entry-points."trimtab.providers"]
    bedrock = "trimtab_bedrock:BedrockProvider"

trimtab's own kinds register the same way (its pyproject.toml), so a
built-in and a plugin are found, validated and listed alike. What each group
expects the entry point to name:

- ``trimtab.providers``: a class or function called as
  ``factory(name, spec, *, env, client, answers, rng)`` (``spec`` is the
  provider's ``ProviderSpec``, with plugin settings under ``options``) that
  returns a provider: ``name``, ``kind``, ``spec``, ``async complete(request)``,
  ``stream(request)`` (async iterator of chunks) and ``async aclose()``.
- ``trimtab.channels``: a function called as ``deliver(channel, url, document,
  sleep)`` that sends one alert event and returns ``(ok, detail)``.
- ``trimtab.scorers``: a scorer, for the quality checks.

Entry points are read once per process, on first use (never at import: the
scan costs ~15 ms), and each is loaded once. A plugin that fails to load is
a ``TrimtabError`` naming the distribution it came from and the fix.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

from trimtab.errors import PluginError, TrimtabError

log = logging.getLogger("trimtab.plugins")

PROVIDERS = "trimtab.providers"
CHANNELS = "trimtab.channels"
SCORERS = "trimtab.scorers"
#: Group -> what one of its names is, for messages.
GROUPS = {PROVIDERS: "provider kind", CHANNELS: "channel kind", SCORERS: "scorer"}

#: trimtab's own entry points, as its pyproject.toml declares them (a test keeps
#: the two equal). Used only when the installed metadata lacks them: trimtab run
#: from a source tree, or installed before it had entry points.
BUILTIN = {
    PROVIDERS: {
        "anthropic": "trimtab.runtime.anthropic:AnthropicProvider",
        "openai": "trimtab.runtime.openai_compat:OpenAIProvider",
        "simulated": "trimtab.runtime.simulated:SimulatedProvider",
    },
    CHANNELS: {
        "apprise": "trimtab.observe.channels:deliver_apprise",
        "webhook": "trimtab.observe.channels:deliver_webhook",
    },
    SCORERS: {},
}
OWN = "trimtab"
#: What of other people's code this process has loaded: another package's plugin, or a
#: project's own scorer (``module:function``, quality/scorers.py appends it). Their
#: objects may flush what they hold only when collected, so the `trimtab` command
#: lets the interpreter collect at exit once one is loaded (cli/collector.py).
foreign_code: list[str] = []


@dataclass(frozen=True)
class Plugin:
    """One registered name: where it points and which distribution declared it."""

    group: str
    name: str
    value: str  # "module:attribute"
    distribution: str | None
    version: str | None

    @property
    def source(self) -> str:
        if self.distribution is None:
            return "an unknown distribution"
        return f"{self.distribution} {self.version or ''}".strip()


_found: dict[str, dict[str, Plugin]] | None = None
_loaded: dict[tuple[str, str], Any] = {}


def refresh() -> None:
    """Forget what was found and loaded (after installing or removing a package)."""
    global _found
    _found = None
    _loaded.clear()
    importlib.invalidate_caches()  # the path finders' caches, importlib.metadata's too


def _scan() -> dict[str, dict[str, Plugin]]:
    global _found
    if _found is not None:
        return _found
    from importlib import metadata  # ~10 ms to import: not for `trimtab --help`

    found: dict[str, dict[str, Plugin]] = {group: {} for group in GROUPS}
    clashes: dict[tuple[str, str], list[Plugin]] = {}
    every = metadata.entry_points()  # one pass over sys.path (first of a name wins)
    dists: dict[int, tuple[str | None, str | None]] = {}
    for group, found_here in found.items():
        for entry in every.select(group=group):
            dist = entry.dist
            if id(dist) not in dists:  # METADATA is parsed on each access: once per package
                meta = dist.metadata if dist is not None else None
                dists[id(dist)] = (meta["Name"], meta["Version"]) if meta else (None, None)
            plugin = Plugin(group, entry.name, entry.value, *dists[id(dist)])
            known = found_here.get(entry.name)
            if known is not None and known.value != plugin.value:
                clashes.setdefault((group, entry.name), [known]).append(plugin)
                continue
            found_here[entry.name] = plugin
    if not any(p.distribution == OWN for group in found.values() for p in group.values()):
        log.warning("trimtab's own entry points are missing from its installed metadata "
                    "(run from a source tree, or installed before it had them): using the "
                    "built-in table. Fix: pip install -e . (or reinstall trimtab).")
        for group, names in BUILTIN.items():
            for name, value in names.items():
                found[group].setdefault(name, Plugin(group, name, value, OWN, None))
    for (group, name), rivals in clashes.items():
        # Two packages claim one name: neither wins silently.
        found[group][name] = Plugin(group, name, "", ", ".join(p.source for p in rivals), None)
    _found = found
    return found


def plugins(group: str) -> list[Plugin]:
    """Every name registered in ``group``, sorted."""
    return sorted(_scan()[_known(group)].values(), key=lambda p: p.name)


def names(group: str) -> list[str]:
    return sorted(_scan()[_known(group)])


def find(group: str, name: str) -> Plugin | None:
    """Who registered ``name`` in ``group`` (None: nobody), without loading it."""
    return _scan()[_known(group)].get(name)


def load(group: str, name: str) -> Any:
    """The object ``name`` points at in ``group``, imported once.

    Raises TrimtabError for a name nobody registered (with the registered
    ones and a did-you-mean) and for a plugin that fails to import, naming
    the distribution that declared it.
    """
    key = (group, name)
    try:
        return _loaded[key]
    except KeyError:
        pass
    registered = _scan()[_known(group)]
    plugin = registered.get(name)
    what = GROUPS[group]
    if plugin is None:
        raise PluginError(unknown(group, name))
    if not plugin.value:
        raise PluginError(f"{what} {name!r} is registered by more than one package "
                           f"({plugin.distribution}). Fix: uninstall all but one of them.")
    try:
        from importlib.metadata import EntryPoint

        loaded = EntryPoint(name, plugin.value, group).load()
    except Exception as exc:  # noqa: BLE001 - any failure in a plugin's import is its own
        raise PluginError(
            f"{what} {name!r} comes from {plugin.source} but does not load "
            f"({plugin.value}: {type(exc).__name__}: {exc}). Fix: reinstall or upgrade "
            f"{plugin.distribution or 'the package that provides it'} "
            f"(pip install --upgrade {plugin.distribution or '...'}), or uninstall it."
        ) from exc
    if plugin.distribution != OWN:
        foreign_code.append(plugin.value)
    _loaded[key] = loaded
    return loaded


def unknown(group: str, name: str) -> str:
    """Why ``name`` is not usable in ``group``: a did-you-mean and the fix."""
    registered = names(group)
    close = _closest(name, registered)
    hint = f" Did you mean {close!r}?" if close else ""
    return (f"unknown {GROUPS[group]} {name!r}.{hint} Installed: "
            f"{', '.join(registered) or 'none'}. Fix: use one of those, or install the "
            f"package that provides {name!r} (`trimtab plugins` lists what is installed).")


def status(plugin: Plugin) -> str | None:
    """None when the plugin loads, else why not."""
    try:
        load(plugin.group, plugin.name)
    except TrimtabError as exc:
        return str(exc)
    return None


def _known(group: str) -> str:
    if group not in GROUPS:
        raise ValueError(f"unknown entry-point group {group!r}; trimtab reads {', '.join(GROUPS)}")
    return group


def _closest(name: str, candidates: list[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return found[0] if found else None
