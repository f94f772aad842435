-- Unhandled errors (answered 5xx), one row each, for `GET /v1/exceptions`. `route` is the
-- matched route template (`/v1/patients/{id}`), never the request path, so no record ids are
-- kept; `tenant_id` is the caller's tenant when the request carried a valid access token.
CREATE TABLE exceptions (
    id TEXT PRIMARY KEY,
    tenant_id TEXT,
    at BIGINT NOT NULL,
    method TEXT NOT NULL,
    route TEXT NOT NULL,
    status BIGINT NOT NULL,
    code TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL
);

CREATE INDEX exceptions_by_tenant ON exceptions (tenant_id, at);
