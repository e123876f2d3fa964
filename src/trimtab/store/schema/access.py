"""Who may act: identities, their role grants and API tokens, the gateway's virtual
keys and the dashboard's browser sessions."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from trimtab.store.schema.base import UTCDateTime, metadata

# Virtual keys for the gateway: one per application, hashed at rest. The key
# carries the env a call runs in by default and the attribution its calls get.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("default_env", String(100), nullable=False),
    Column("systems", Text, nullable=True),  # JSON list; NULL = every system
    Column("tags", Text, nullable=True),  # JSON object
    Column("envs", Text, nullable=True),  # JSON list; NULL = every environment
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    # A monthly budget set at creation (micro-USD; NULL: none), enforced at the gateway
    # when budget_enforced (NULL: no).
    Column("monthly_budget_micro_usd", BigInteger, nullable=True),
    Column("budget_enforced", Boolean, nullable=True),
)

# --- identities and roles -------------------------------------------------------

# People and pipelines that act on the store. Never deleted: a removed identity
# keeps its row so the audit trail's names still resolve.
identities = Table(
    "identities",
    metadata,
    Column("name", String(320), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("removed_at", UTCDateTime, nullable=True),
    Column("removed_by", String(320), nullable=True),
)

# A role in a project, or in one system of it (``system`` set).
grants = Table(
    "grants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("identity", String(320), ForeignKey("identities.name"), nullable=False),
    Column("role", String(20), nullable=False),  # viewer | reviewer | operator | approver | admin
    Column("project", String(200), nullable=False),
    Column("system", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("revoked_by", String(320), nullable=True),
    Index(None, "identity", "project"),
)

# API tokens for identities: the sha256 of the secret, never the secret.
tokens = Table(
    "tokens",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("identity", String(320), ForeignKey("identities.name"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

# The dashboard's browser sessions: a cookie names one by a random secret, kept
# here only as its SHA-256; signing out sets ``ended_at``, so a copied cookie stops
# working at once in every worker. Rows past ``expires_at`` are deleted on sign-in.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 hex of the cookie's secret
    Column("kind", String(1), nullable=False),  # u: a user's API token, k: a gateway key
    Column("subject", String(64), nullable=False),  # the token's or the key's id
    Column("name", String(320), nullable=False),  # the user or the key, for people
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Index(None, "expires_at"),
)
