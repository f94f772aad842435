-- Patients, FHIR R4 aligned (Patient: identifier = MRN, name, gender, birthDate, telecom,
-- active). Deleting a patient deactivates the record: clinical history keeps its subject.
CREATE TABLE patients (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    mrn TEXT NOT NULL,
    family_name TEXT NOT NULL,
    given_names TEXT NOT NULL,
    gender TEXT NOT NULL CHECK (gender IN ('male', 'female', 'other', 'unknown')),
    birth_date TEXT NOT NULL,
    phone TEXT,
    email TEXT,
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, mrn)
);
