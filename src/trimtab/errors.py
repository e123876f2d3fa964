"""The one exception type for mistakes a user can make and fix.

The CLI prints these without a traceback and exits 2, so every message must
say where the problem is (file, line, field, object) and what to do about it.
"""


class TrimtabError(Exception):
    """A problem the user caused and can fix: bad file, unknown name, bad request."""

    exit_code = 2


class NotFound(TrimtabError):
    """What was asked for does not exist (a system, release, call, baseline):
    the web API answers 404 where other mistakes answer 400."""


class Conflict(TrimtabError):
    """The request is well formed but the object's state refuses it (a freeze
    already standing, nothing left to lift or release): the web API answers 409."""


class ProjectError(TrimtabError):
    """Every problem found in a project file, reported together."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        count = len(problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the project file:"
        super().__init__("\n".join([head, *(f"  {p}" for p in problems)]))


class SchemaTooNewError(TrimtabError):
    """The database was migrated by a newer trimtab; touching it could lose data."""


class ArtefactCorruptError(TrimtabError):
    """An artefact's bytes no longer match the sha256 its release recorded."""


class PluginError(TrimtabError):
    """A kind or scorer nobody installed, or whose package fails to load (trimtab.plugins)."""


class StoreUnavailable(TrimtabError):
    """The database cannot be reached; a service answers 503 and retries later."""


class RecordingUnavailable(TrimtabError):
    """A call's record cannot be written (the spool's disk is full or failing) and
    its system requires recording: the call fails (503) rather than answer unrecorded."""
