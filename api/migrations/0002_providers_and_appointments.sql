-- Providers and their appointments. `booking_seq` is bumped by every booking of the provider,
-- which takes the provider's row lock (PostgreSQL) or the write lock (SQLite) before the
-- overlap check, so concurrent bookings of one provider are serialised.
CREATE TABLE providers (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    name TEXT NOT NULL,
    specialty TEXT NOT NULL,
    booking_seq BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE appointments (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    provider_id TEXT NOT NULL REFERENCES providers (id),
    patient_id TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('booked', 'checked_in', 'completed', 'cancelled', 'no_show')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (ends_at > starts_at)
);

CREATE INDEX appointments_provider_time ON appointments (provider_id, starts_at);
