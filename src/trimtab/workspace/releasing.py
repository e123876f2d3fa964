"""The Workspace's methods for systems, releases and environments: snapshot, diff, promote
(through the gates and any approval), rollback, and what is deployed where.

A mixin of trimtab.workspace.Workspace, which gives the ``store``, ``project``,
``authorize`` and the other parts these methods use; each hands them to the
package that does the work.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from trimtab.errors import TrimtabError
from trimtab.releases import lifecycle
from trimtab.store import deployments as deployment_store
from trimtab.store import releases as release_store
from trimtab.store import systems as system_store

if TYPE_CHECKING:
    from trimtab.releases.diffs import SpecDiff
    from trimtab.store.approvals import ApprovalRequest
    from trimtab.store.deployments import Deployment
    from trimtab.store.releases import Release
    from trimtab.store.systems import System


class ReleaseMethods:
    """Systems, releases and environments: mixed into Workspace."""

    def sync(self, names: list[str] | None = None) -> list[tuple[System, str]]:
        """Register or update systems from the project file (all when names is None)."""
        return lifecycle.sync(self.store, self.project, names,
                              actor=self.authorize("system.sync"))

    def systems(self) -> list[System]:
        with self.store.read() as conn:
            return system_store.list_all(conn)

    def get_system(self, name: str) -> System:
        with self.store.read() as conn:
            return system_store.get(conn, name)

    def release(self, system: str, note: str = "") -> tuple[Release, bool]:
        """Snapshot ``system`` as declared now. Returns (release, created)."""
        return lifecycle.snapshot(self.store, self.project, self.artefacts, system, note,
                                  actor=self.authorize("release.create", system))

    def releases(self, system: str) -> list[Release]:
        with self.store.read() as conn:
            return release_store.for_system(conn, system_store.get(conn, system).id)

    def get_release(self, ref: str, system: str | None = None) -> Release:
        return lifecycle.get(self.store, ref, system)

    def diff(self, old_ref: str, new_ref: str) -> tuple[Release, Release, SpecDiff]:
        return lifecycle.diff(self.store, old_ref, new_ref)

    def fetch_artefact(self, ref: str, name: str, destination: Path) -> Path:
        return lifecycle.fetch_artefact(self.store, self.artefacts, ref, name, destination)

    def promote(self, system: str, ref: str, env: str, reason: str = "", *,
                canary: int | None = None, shadow: int | None = None,
                force: bool = False, skip_order: bool = False
                ) -> Deployment | ApprovalRequest | None:
        """Make a release active in ``env``; None when it already was.

        With ``canary=N`` the release answers N% of calls beside the stable one;
        with ``shadow=N`` it gets a copy of N% of calls, recorded, never returned.
        A later plain promote graduates it; a rollback aborts it. Where an
        approval policy protects ``env``, the result is a pending ApprovalRequest
        that applies once approved (``approve``).

        An environment that eval suites guard (``gate:``) takes the release only
        with a passing run of each, checked before any approval is asked for
        (trimtab.quality.gates); ``force`` with a ``reason`` overrides that (the
        admin role; audited). A shadow answers no one: not gated.
        Environments go in their declared order (releases/order.py) unless
        ``skip_order`` with a ``reason``, checked before the gate and any approval.
        """
        from trimtab.quality import gates

        actor = self.authorize("gate.override" if force else "deployment.promote", system)
        override = _freeze_override(force, reason)
        lifecycle.check_not_frozen(self.store, system, env, "promote", override=override)
        lifecycle.check_order(self.store, self.project, system, ref, env,
                              skip_order=skip_order, reason=reason)
        if shadow is None:
            gates.require(self.store, self.project, system, ref, env, force=force,
                          reason=reason, actor=actor)
        held = _approvals().hold(self.store, self.project, system, ref, env, reason,
                                 canary=canary, shadow=shadow, actor=actor)
        return held or self._apply_promotion(system, ref, env, reason, canary=canary,
                                             shadow=shadow, actor=actor, skip_order=skip_order,
                                             freeze_override=override)

    def _apply_promotion(self, system: str, ref: str, env: str, reason: str, *,
                         canary: int | None, shadow: int | None,
                         actor: str, skip_order: bool = False,
                         freeze_override: str | None = None) -> Deployment | None:
        """The promotion itself: what ``promote`` does where no approval is needed,
        and what an approved request applies (never past a freeze: an override is
        the admin's, at the moment of the change)."""
        with self._changing_routes():
            return lifecycle.promote(self.store, self.project, system, ref, env, reason,
                                     canary=canary, shadow=shadow, actor=actor,
                                     skip_order=skip_order, freeze_override=freeze_override)

    def approve(self, request: str, *, release: str | None = None, comment: str = "",
                now: datetime | None = None) -> tuple[ApprovalRequest, Deployment | None]:
        """Approve a pending promotion (optionally naming the release approved);
        at the quorum it applies. Returns the request and the deployment if it applied."""
        pending = self.approval(request)
        actor = self.authorize("approval.decide", pending.system)
        # A frozen system takes no approval: the quorum is not spent on a change
        # that could not apply (store/freezes.py refuses it again when applying).
        lifecycle.check_not_frozen(self.store, pending.system, pending.env, "promote")
        return _approvals().approve(
            self.store, request, release=release, comment=comment, now=now,
            actor=actor, apply=self._apply_approved)

    def _apply_approved(self, r: ApprovalRequest) -> Deployment | None:
        """An approved request applies while its release still passes its gates; the
        order was checked when it was requested."""
        from trimtab.quality import gates

        gates.recheck(self.store, self.project, r.system, r.release_id, r.env,
                      actor=r.requested_by)
        return self._apply_promotion(
            r.system, r.release_id, r.env, f"{r.reason} (approved: request {r.id})".strip(),
            canary=r.percent if r.mode == "canary" else None, shadow=None,
            actor=r.requested_by, skip_order=True)

    def reject(self, request: str, *, reason: str,
               now: datetime | None = None) -> ApprovalRequest:
        pending = self.approval(request)
        return _approvals().reject(self.store, request, reason=reason, now=now,
                                   actor=self.authorize("approval.decide", pending.system))

    def approval(self, request: str) -> ApprovalRequest:
        from trimtab.store import approvals as approval_store

        with self.store.read() as conn:
            return approval_store.get(conn, request)

    def approvals(self, *, include_closed: bool = False,
                  system: str | None = None) -> list[ApprovalRequest]:
        """Promotion requests waiting for approval (all of them with ``include_closed``)."""
        return _approvals().requests(self.store, include_closed=include_closed, system=system)

    def rollback(self, system: str, env: str, to: str | None = None,
                 reason: str = "", *, force: bool = False) -> Deployment:
        """Go back to the previous release (or ``to``); ``force`` with a ``reason``
        rolls back a system an incident froze (admin; audited)."""
        protected = _approvals().policy(self.project, system, env) is not None
        action = "deployment.rollback.protected" if protected else "deployment.rollback"
        actor = self.authorize("freeze.override" if force else action, system)
        with self._changing_routes():
            return lifecycle.rollback(self.store, self.project, system, env, to, reason,
                                      actor=actor,
                                      freeze_override=_freeze_override(force, reason))

    def status(self) -> list[Deployment]:
        """The stable deployment of every (system, env)."""
        with self.store.read() as conn:
            return deployment_store.current_all(conn)

    def candidates(self) -> list[Deployment]:
        """Canaries and shadows running beside a stable release."""
        with self.store.read() as conn:
            return deployment_store.candidates_all(conn)

    def history(self, system: str, env: str | None = None) -> list[Deployment]:
        with self.store.read() as conn:
            return deployment_store.history(conn, system_store.get(conn, system).id, env)

    def active_release(self, system: str, env: str) -> Release | None:
        """Read through to the store: always the latest (the runtime uses ``active``)."""
        return lifecycle.active_release(self.store, system, env)

    def active_releases(self, system: str, envs: list[str]) -> dict[str, Release | None]:
        """``active_release`` for each of ``envs``, read at once (a system page)."""
        return lifecycle.active_releases(self.store, system, list(envs))



def _freeze_override(force: bool, reason: str) -> str | None:
    """The reason an admin's ``--force`` gives to pass a freeze, required."""
    if not force:
        return None
    if not reason.strip():
        raise TrimtabError("--force needs --reason \"why\": the override and its reason are "
                           "kept in the audit trail.")
    return reason


def _approvals():
    from trimtab.govern import approvals

    return approvals
