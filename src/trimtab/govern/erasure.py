"""`trimtab erase --user ID`: a data subject's erasure request (GDPR Art. 17).

Deletes the person's calls and everything about them (store/erasure.py) and
records the erasure in the audit trail as a reference: the request's id in
the team's own register (``--request``), the counts, who and when; never the
user id, so the chain, which cannot be edited, never has to be.

Legal hold wins by default. Art. 17(3)(e) exempts data needed for legal
claims, which is what a hold (an incident's freeze, a regulator's request)
keeps, so an erasure that reaches held calls is refused, naming how many,
unless the admin says which way to go: ``skip_held`` erases everything else
now and keeps the held calls (erase again once the hold is released), or
``override_hold`` with a reason erases them too (the override and its reason
are in the audit entry).
"""

from __future__ import annotations

from trimtab.errors import TrimtabError
from trimtab.store import Store
from trimtab.store import erasure as erasure_store
from trimtab.store.erasure import Erasure
from trimtab.store.holds import held_call_filter
from trimtab.store.ids import new_call_id

MAX_TEXT = 200


def _held_condition():
    """The store's legal-hold condition on calls (store/holds.py)."""
    return held_call_filter()


def erase(store: Store, user_id: str, *, request: str, actor: str, reason: str = "",
          systems: list[str] | None = None, skip_held: bool = False,
          override_hold: bool = False, dry_run: bool = False) -> Erasure:
    user_id, request, reason = user_id.strip(), request.strip(), reason.strip()
    if not user_id or len(user_id) > MAX_TEXT:
        raise TrimtabError(f"--user must be the user id the calls were recorded with "
                           f"(1 to {MAX_TEXT} characters). Fix: e.g. --user u-4711.")
    if not request or len(request) > MAX_TEXT:
        raise TrimtabError(
            "--request is the erasure request's reference in your register (e.g. DSR-2026-041): "
            "the audit trail records it instead of the person's id. Fix: add --request REF "
            f"(at most {MAX_TEXT} characters).")
    if skip_held and override_hold:
        raise TrimtabError("--skip-held keeps held calls, --override-hold erases them: "
                           "give one of them.")
    if override_hold and not reason:
        raise TrimtabError("--override-hold erases calls kept under a legal hold: say why in "
                           "--reason (it is kept in the audit trail).")
    held = _held_condition()
    with store.read() as conn:
        count = erasure_store.held_calls(conn, user_id, held, systems) if held is not None \
            else 0
    if count and not (skip_held or override_hold or dry_run):
        raise TrimtabError(
            f"{count} of this user's calls are under a legal hold (`trimtab incident holds`); "
            "a hold for legal claims outweighs erasure (GDPR Art. 17(3)(e)). Nothing was "
            "erased. Fix: --skip-held erases the rest now and keeps the held calls (erase "
            "again when the hold is released), or --override-hold --reason '...' erases them "
            "too.")
    erasure_id = new_call_id()[:20]
    if dry_run:
        with store.read() as conn:
            return erasure_store.erase_user(
                conn, user_id, erasure_id=erasure_id, request=request, actor=actor,
                reason=reason, systems=systems, held=held, include_held=override_hold,
                dry_run=True)
    with store.write() as conn:
        return erasure_store.erase_user(
            conn, user_id, erasure_id=erasure_id, request=request, actor=actor, reason=reason,
            systems=systems, held=held, include_held=override_hold)
