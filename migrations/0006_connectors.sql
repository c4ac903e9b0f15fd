-- Carrier connections and routing, shared by every node: SMPP connectors, routes from a
-- destination prefix to an ordered list of connectors (the next takes over when one is
-- down), and the leases by which nodes hold a connector's binds.

CREATE TABLE smpp_connectors (
    id            uuid PRIMARY KEY,
    name          varchar(50) NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]*$'),
    host          varchar(255) NOT NULL,
    port          integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    system_id     varchar(16) NOT NULL,
    password      varchar(9) NOT NULL DEFAULT '',  -- SMPP's limit; never returned by the API
    system_type   varchar(13) NOT NULL DEFAULT '' CHECK (system_type ~ '^[ -~]*$'),  -- SMPP: printable ASCII
    bind_mode     varchar(12) NOT NULL DEFAULT 'transceiver'
                  CHECK (bind_mode IN ('transceiver', 'transmitter')),
    binds         integer NOT NULL DEFAULT 1 CHECK (binds BETWEEN 1 AND 64),
    tps           numeric(10, 2) NOT NULL DEFAULT 0 CHECK (tps >= 0),  -- 0: no cap
    window_size   integer NOT NULL DEFAULT 256 CHECK (window_size BETWEEN 1 AND 10000),
    data_coding   varchar(10) NOT NULL DEFAULT 'gsm7' CHECK (data_coding IN ('gsm7', 'latin1')),
    long_message  varchar(10) NOT NULL DEFAULT 'udh' CHECK (long_message IN ('udh', 'sar', 'payload')),
    dlr_id_format varchar(20) NOT NULL DEFAULT 'exact'
                  CHECK (dlr_id_format IN ('exact', 'case_insensitive', 'hex_in_receipt', 'decimal_in_receipt')),
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at    timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- prefix: '' (every destination), a country calling code or a longer number prefix, with '+'.
CREATE TABLE sms_routes (
    prefix     varchar(16) PRIMARY KEY CHECK (prefix = '' OR prefix ~ '^\+[0-9]{1,15}$'),
    connectors text[] NOT NULL CHECK (cardinality(connectors) BETWEEN 1 AND 10),
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- One row per bind a node holds; a node renews its rows and takes no more than its share
-- of a connector's binds among the live nodes (dispatch_nodes).
CREATE TABLE connector_binds (
    connector_id uuid NOT NULL REFERENCES smpp_connectors(id) ON DELETE CASCADE,
    slot         integer NOT NULL,
    node_id      text NOT NULL,
    lease_until  timestamptz NOT NULL,
    PRIMARY KEY (connector_id, slot)
);

CREATE TABLE dispatch_nodes (
    node_id    text PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    seen_at    timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
