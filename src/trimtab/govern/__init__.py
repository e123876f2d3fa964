"""Governance: identities and roles, approvals, suspend, incidents, timeline, evidence, audit
checkpoints.
"""
