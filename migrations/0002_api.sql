-- What the HTTP API needs beside the seed tables: prices, contact imports, and the indexes
-- behind paging and search.

-- Credits per SMS segment by destination country (ISO 3166 alpha-2), with '*' as the default.
CREATE TABLE prices (
    country_code        varchar(2) PRIMARY KEY CHECK (country_code = '*' OR country_code ~ '^[A-Z]{2}$'),
    credits_per_segment integer NOT NULL CHECK (credits_per_segment > 0),
    updated_at          timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_by          uuid REFERENCES users(id)
);

INSERT INTO prices (country_code, credits_per_segment) VALUES ('*', 1);

-- CSV imports into a tenant's contacts: one row per job, with its progress.
CREATE TABLE contact_imports (
    id             uuid PRIMARY KEY DEFAULT uuid_generate_v7(),
    user_id        uuid NOT NULL REFERENCES users(id),
    group_id       uuid REFERENCES contact_groups(id) ON DELETE SET NULL,
    status         varchar(20) NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    on_duplicate   varchar(10) NOT NULL DEFAULT 'skip' CHECK (on_duplicate IN ('skip', 'update')),
    default_region varchar(2),
    file_name      text,
    bytes_total    bigint NOT NULL DEFAULT 0,
    bytes_read     bigint NOT NULL DEFAULT 0,
    rows_read      integer NOT NULL DEFAULT 0,
    imported       integer NOT NULL DEFAULT 0,
    updated        integer NOT NULL DEFAULT 0,
    skipped        integer NOT NULL DEFAULT 0,  -- existing contacts left alone (on_duplicate = skip)
    duplicates     integer NOT NULL DEFAULT 0,  -- rows repeating a number earlier in the file
    rejected       integer NOT NULL DEFAULT 0,
    error          text,
    created_by     uuid REFERENCES users(id),
    created_at     timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at     timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    finished_at    timestamptz
);

CREATE INDEX idx_contact_imports_user ON contact_imports(user_id, created_at DESC);

-- The rows an import could not take, with the reason; downloadable as CSV.
CREATE TABLE contact_import_rejects (
    import_id uuid NOT NULL REFERENCES contact_imports(id) ON DELETE CASCADE,
    line      integer NOT NULL,
    reason    text NOT NULL,
    raw       text NOT NULL,
    PRIMARY KEY (import_id, line)
);

-- Contact search scans the tenant's contacts newest first (see docs/decisions/0004):
-- a trigram index would cost more on every import row than it saves on rare searches.

-- Paging a tenant's tokens, groups and sub-users.
CREATE INDEX idx_api_tokens_tenant ON api_tokens(tenant_id, created_at DESC);
CREATE INDEX idx_contact_groups_user_name ON contact_groups(user_id, name);
CREATE INDEX idx_sessions_expires ON sessions(expires_at);
