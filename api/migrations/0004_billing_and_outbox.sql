-- The clinic a provider sees patients in (the no_show view counts per clinic).
ALTER TABLE providers ADD COLUMN clinic TEXT NOT NULL DEFAULT 'main';

-- Invoices: amounts in minor units of an ISO 4217 currency; draft -> issued -> paid / void
-- (a draft may be voided too). Lines carry a CPT/HCPCS code or an MS-DRG and the ICD-10-CM
-- diagnoses that support it (comma-separated, as entered).
CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    encounter_id TEXT NOT NULL,
    patient_id TEXT,
    care_unit TEXT,
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL CHECK (total_minor >= 0),
    status TEXT NOT NULL CHECK (status IN ('draft', 'issued', 'paid', 'void')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE invoice_lines (
    invoice_id TEXT NOT NULL REFERENCES invoices (id),
    line_no BIGINT NOT NULL,
    code_system TEXT NOT NULL CHECK (code_system IN ('hcpcs', 'ms_drg')),
    code TEXT NOT NULL,
    diagnoses TEXT NOT NULL,
    description TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    PRIMARY KEY (invoice_id, line_no)
);

-- The transactional outbox: every state change writes its domain event here in the same
-- transaction; a relay hands unpublished rows to the streams (oldest first) and stamps
-- `published_at`. At least once: downstream dedups by `event_id`. `ordinal` orders the rows
-- of one millisecond: it increases with every row a process writes, so the events of one
-- transaction keep the order they were written in.
CREATE TABLE outbox (
    event_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    ordinal BIGINT NOT NULL,
    published_at BIGINT
);

CREATE INDEX outbox_unpublished ON outbox (published_at, created_at, ordinal);
