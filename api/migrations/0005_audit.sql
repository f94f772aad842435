-- The audit trail: who read or changed which patient record, when and from where. One hash
-- chain per tenant: each entry carries the SHA-256 of the one before (`prev_hash`; 64 zeros
-- for the first) and its own (`hash`, over every field and `prev_hash`). `audit_heads` holds
-- each chain's last entry; appending bumps it first, which takes its row lock (PostgreSQL) or
-- the write lock (SQLite), so concurrent appends of one tenant are serialised.
CREATE TABLE audit_heads (
    tenant_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE audit_log (
    tenant_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    client TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
