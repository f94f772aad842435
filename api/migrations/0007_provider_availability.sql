-- A provider's weekly availability: windows of local wall-clock time on ISO weekdays
-- (1 = Monday … 7 = Sunday), in the provider's IANA time zone. A provider without windows
-- takes bookings at any time; with windows, an appointment must lie inside one of them.
ALTER TABLE providers ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';

CREATE TABLE provider_availability (
    provider_id TEXT NOT NULL REFERENCES providers (id),
    weekday BIGINT NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    start_minute BIGINT NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute BIGINT NOT NULL CHECK (end_minute BETWEEN 1 AND 1440),
    CHECK (end_minute > start_minute)
);

CREATE INDEX provider_availability_by_provider ON provider_availability (provider_id, weekday);
