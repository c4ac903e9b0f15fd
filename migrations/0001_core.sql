-- Herald's merged schema: every table and column of the bulk-SMS and collections seeds,
-- under their names, plus what a running system needs beside them.
--
-- Conventions
--   * On tenant-owned tables `user_id` is the tenant: the `users` row with role 'client'
--     that owns the data. Sub-users act for their tenant; who did what is in audit_logs.
--   * Seed `customer_id` columns point at contacts (a collections "customer" is a contact).
--   * Low-volume tables keep the seed's uuid_generate_v4() keys; high-volume tables default
--     to time-ordered UUIDv7 (the application normally supplies them).

CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- RFC 9562 UUIDv7: 48-bit Unix milliseconds, then random bits, version 7.
CREATE FUNCTION uuid_generate_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

-- ---------------------------------------------------------------------------------------
-- Accounts and access
-- ---------------------------------------------------------------------------------------

CREATE TABLE users (
    id              uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    username        varchar(50)  NOT NULL UNIQUE,
    email           varchar(120) NOT NULL UNIQUE,
    password_hash   varchar(255) NOT NULL,              -- argon2id, libsodium string form
    role            varchar(20)  NOT NULL DEFAULT 'client'
                    CHECK (role IN ('admin', 'client')),
    sms_credits     integer      NOT NULL DEFAULT 0,
    account_status  varchar(20)  NOT NULL DEFAULT 'active'
                    CHECK (account_status IN ('active', 'suspended', 'closed')),
    created_at      timestamptz  NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_login      timestamptz,
    company_name    varchar(100),
    phone_number    varchar(20),
    -- The tenant this user belongs to: itself for a tenant's owner, the owner for a
    -- sub-user, NULL for platform admins.
    tenant_id       uuid REFERENCES users(id),
    -- Account settings: allow_negative_credits, refund_failed, quiet_hours, keywords...
    settings        jsonb        NOT NULL DEFAULT '{}'::jsonb,
    updated_at      timestamptz  NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CHECK (role = 'admin' OR tenant_id IS NOT NULL),
    CHECK (sms_credits >= 0 OR (settings ->> 'allow_negative_credits')::boolean IS TRUE)
);

CREATE INDEX idx_users_email ON users(email);
CREATE INDEX idx_users_role ON users(role);
CREATE INDEX idx_users_tenant_id ON users(tenant_id);

-- Named roles with permission lists, granted to a tenant's sub-users.
CREATE TABLE user_roles (
    id          uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    user_id     uuid REFERENCES users(id) ON DELETE CASCADE,
    role_name   varchar(50) NOT NULL,
    permissions jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(permissions) = 'array'),
    created_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    tenant_id   uuid NOT NULL REFERENCES users(id),
    UNIQUE (user_id, role_name)
);

CREATE INDEX idx_user_roles_user_id ON user_roles(user_id);

-- Dashboard sessions. Only hashes of the cookie and CSRF secrets are stored.
CREATE TABLE sessions (
    id            uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash    varchar(64) NOT NULL UNIQUE,
    csrf_hash     varchar(64) NOT NULL,
    ip_address    varchar(45),
    user_agent    text,
    created_at    timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_seen_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);

CREATE INDEX idx_sessions_user_id ON sessions(user_id);

-- API tokens. `token` holds the SHA-256 of the secret, never the secret itself;
-- `token_prefix` is the short visible start that lets people tell tokens apart.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    user_id      uuid REFERENCES users(id) ON DELETE CASCADE,
    token        varchar(255) NOT NULL UNIQUE,
    name         varchar(100),
    permissions  jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(permissions) = 'array'),
    last_used    timestamptz,
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    status       varchar(20) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    token_prefix varchar(16) NOT NULL,
    tenant_id    uuid REFERENCES users(id),
    revoked_at   timestamptz
);

CREATE INDEX idx_api_tokens_user_id ON api_tokens(user_id);
CREATE INDEX idx_api_tokens_token ON api_tokens(token);

-- Every mutating action: who (user_id), on whose behalf (tenant_id), what, from where.
CREATE TABLE audit_logs (
    id          uuid PRIMARY KEY DEFAULT uuid_generate_v7(),
    user_id     uuid REFERENCES users(id),
    action      varchar(100) NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb,
    ip_address  varchar(45),
    user_agent  text,
    created_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    tenant_id   uuid REFERENCES users(id),
    target_type varchar(50),
    target_id   text
);

CREATE INDEX idx_audit_logs_user_id ON audit_logs(user_id);
CREATE INDEX idx_audit_logs_action ON audit_logs(action);
CREATE INDEX idx_audit_logs_tenant_created ON audit_logs(tenant_id, created_at DESC);

-- ---------------------------------------------------------------------------------------
-- Contacts
-- ---------------------------------------------------------------------------------------

CREATE TABLE contact_groups (
    id             uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    user_id        uuid NOT NULL REFERENCES users(id),
    name           varchar(100) NOT NULL,
    description    text,
    total_contacts integer NOT NULL DEFAULT 0 CHECK (total_contacts >= 0),
    created_at     timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at     timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (user_id, name)
);

CREATE INDEX idx_contact_groups_user_id ON contact_groups(user_id);

CREATE TABLE contacts (
    id            uuid PRIMARY KEY DEFAULT uuid_generate_v7(),
    user_id       uuid NOT NULL REFERENCES users(id),
    -- The group the contact was created in; membership lives in contact_group_members.
    group_id      uuid REFERENCES contact_groups(id) ON DELETE SET NULL,
    -- E.164; Herald normalises every number before it gets here, so a cheap shape check
    -- (a regex would cost a microsecond per imported row) guards against other writers.
    phone_number  varchar(20) NOT NULL CHECK (phone_number LIKE '+%' AND length(phone_number) BETWEEN 8 AND 16),
    country_code  varchar(5),
    first_name    varchar(50),
    last_name     varchar(50),
    email         varchar(120),
    custom_fields jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(custom_fields) = 'object'),
    status        varchar(20) NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active', 'unsubscribed', 'invalid')),
    created_at    timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- IANA zone that overrides the one inferred from the number.
    time_zone     varchar(64),
    updated_at    timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- The seed's index on user_id, with id added so that it also serves keyset paging.
CREATE INDEX idx_contacts_user_id ON contacts(user_id, id);
CREATE INDEX idx_contacts_group_id ON contacts(group_id);
-- The seed's index on phone_number, made unique per tenant: one index serves lookups by
-- number and the rule that a number appears once per tenant.
CREATE UNIQUE INDEX idx_contacts_phone ON contacts(phone_number, user_id);

-- Many-to-many membership of contacts in groups.
CREATE TABLE contact_group_members (
    group_id   uuid NOT NULL REFERENCES contact_groups(id) ON DELETE CASCADE,
    contact_id uuid NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users(id),
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (group_id, contact_id)
);

CREATE INDEX idx_contact_group_members_contact ON contact_group_members(contact_id);

-- contact_groups.total_contacts follows membership, statement by statement, so that bulk
-- imports cost one UPDATE per group and concurrent changes serialise on the group row.
CREATE FUNCTION contact_group_members_count() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE contact_groups g SET total_contacts = g.total_contacts + d.n
        FROM (SELECT group_id, count(*) AS n FROM changed_rows GROUP BY group_id ORDER BY group_id) d
        WHERE g.id = d.group_id;
    ELSE
        UPDATE contact_groups g SET total_contacts = g.total_contacts - d.n
        FROM (SELECT group_id, count(*) AS n FROM changed_rows GROUP BY group_id ORDER BY group_id) d
        WHERE g.id = d.group_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER contact_group_members_added AFTER INSERT ON contact_group_members
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_group_members_count();
CREATE TRIGGER contact_group_members_removed AFTER DELETE ON contact_group_members
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_group_members_count();

-- ---------------------------------------------------------------------------------------
-- Campaigns and messages
-- ---------------------------------------------------------------------------------------

CREATE TABLE sms_campaigns (
    id               uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    user_id          uuid NOT NULL REFERENCES users(id),
    name             varchar(100) NOT NULL,
    message_template text NOT NULL,
    sender_id        varchar(50),
    total_recipients integer NOT NULL DEFAULT 0,
    status           varchar(20) NOT NULL DEFAULT 'draft'
                     CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled')),
    scheduled_time   timestamptz,
    created_at       timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    completed_at     timestamptz,
    -- tps, quiet_hours, smart_encoding, max_segments, validity, opt_out_footer
    settings         jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(settings) = 'object'),
    updated_at       timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    started_at       timestamptz,
    status_reason    text
);

CREATE INDEX idx_campaigns_user_id ON sms_campaigns(user_id);
CREATE INDEX idx_campaigns_status ON sms_campaigns(status);

-- The groups a campaign sends to.
CREATE TABLE sms_campaign_groups (
    campaign_id uuid NOT NULL REFERENCES sms_campaigns(id) ON DELETE CASCADE,
    group_id    uuid NOT NULL REFERENCES contact_groups(id),
    PRIMARY KEY (campaign_id, group_id)
);

-- One row per outgoing message: each campaign recipient and each API message. Partitioned
-- by month of created_at; a UUIDv7 id carries the same time, so a lookup by id can name its
-- partition.
CREATE TABLE sms_delivery_logs (
    id                  uuid NOT NULL DEFAULT uuid_generate_v7(),
    campaign_id         uuid REFERENCES sms_campaigns(id),
    recipient_id        uuid REFERENCES contacts(id) ON DELETE SET NULL,
    phone_number        varchar(20) NOT NULL,
    status              varchar(20) NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('scheduled', 'queued', 'sending', 'sent', 'delivered',
                                          'undelivered', 'expired', 'rejected', 'failed', 'canceled')),
    external_message_id varchar(100),
    sent_at             timestamptz,
    delivered_at        timestamptz,
    error_code          varchar(50),
    error_message       text,
    cost                numeric(10, 4),
    -- Additions
    created_at          timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    user_id             uuid NOT NULL REFERENCES users(id),
    sender_id           varchar(20),
    body                text,
    encoding            varchar(8) CHECK (encoding IN ('gsm7', 'ucs2')),
    segments            smallint CHECK (segments > 0),
    scheduled_at        timestamptz,
    callback_url        text,
    updated_at          timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE INDEX idx_delivery_logs_campaign_id ON sms_delivery_logs(campaign_id);
CREATE INDEX idx_delivery_logs_status ON sms_delivery_logs(status);
CREATE INDEX idx_delivery_logs_phone ON sms_delivery_logs(phone_number);
CREATE INDEX idx_delivery_logs_user_created ON sms_delivery_logs(user_id, created_at DESC);
-- A recipient appears once per campaign (all rows of a campaign share its start time).
CREATE UNIQUE INDEX idx_delivery_logs_campaign_recipient
    ON sms_delivery_logs(campaign_id, recipient_id, created_at)
    WHERE campaign_id IS NOT NULL;

-- Rows outside every monthly partition land here; maintenance keeps it empty.
CREATE TABLE sms_delivery_logs_default PARTITION OF sms_delivery_logs DEFAULT;

-- Creates the monthly partitions from `from_month` for `months` months; returns how many
-- were new. Safe to call at any time and from several processes.
CREATE FUNCTION herald_ensure_delivery_log_partitions(from_month date, months integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_month)::date;
    created integer := 0;
    part text;
BEGIN
    -- One maintainer at a time: CREATE TABLE ... PARTITION OF takes locks that would
    -- otherwise deadlock between nodes.
    PERFORM pg_advisory_xact_lock(72830002);
    FOR i IN 0 .. months - 1 LOOP
        part := format('sms_delivery_logs_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF sms_delivery_logs FOR VALUES FROM (%L) TO (%L)',
                           part, m, (m + interval '1 month')::date);
            created := created + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END
$$;

SELECT herald_ensure_delivery_log_partitions((date_trunc('month', now()) - interval '1 month')::date, 5);

-- ---------------------------------------------------------------------------------------
-- Money
-- ---------------------------------------------------------------------------------------

-- The credit ledger. Every change to users.sms_credits writes one row in the same
-- transaction, and the rows of a tenant sum to its balance.
CREATE TABLE billing_transactions (
    id                 uuid PRIMARY KEY DEFAULT uuid_generate_v7(),
    user_id            uuid NOT NULL REFERENCES users(id),
    transaction_type   varchar(50) NOT NULL
                       CHECK (transaction_type IN ('credit_purchase', 'campaign_cost', 'message_cost',
                                                   'refund', 'adjustment')),
    -- Money paid for a credit_purchase; for other rows, the credit change as a decimal.
    amount             numeric(10, 2) NOT NULL,
    credits_before     integer NOT NULL,
    credits_after      integer NOT NULL,
    description        text,
    payment_method     varchar(50),
    transaction_status varchar(20) NOT NULL DEFAULT 'completed'
                       CHECK (transaction_status IN ('pending', 'completed', 'failed', 'reversed')),
    created_at         timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- Signed change in credits: credits_before + credits = credits_after.
    credits            integer NOT NULL,
    created_by         uuid REFERENCES users(id),
    campaign_id        uuid REFERENCES sms_campaigns(id),
    CHECK (credits_after = credits_before + credits)
);

CREATE INDEX idx_billing_user_id ON billing_transactions(user_id);
CREATE INDEX idx_billing_type ON billing_transactions(transaction_type);
CREATE INDEX idx_billing_user_created ON billing_transactions(user_id, created_at DESC);

-- ---------------------------------------------------------------------------------------
-- Collections communications
-- ---------------------------------------------------------------------------------------

-- Every incoming and outgoing SMS per customer (contact).
CREATE TABLE message_history (
    id              uuid PRIMARY KEY DEFAULT uuid_generate_v7(),
    customer_id     uuid REFERENCES contacts(id) ON DELETE SET NULL,
    message_type    varchar(10) NOT NULL CHECK (message_type IN ('incoming', 'outgoing')),
    message_content text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    user_id         uuid NOT NULL REFERENCES users(id),
    phone_number    varchar(20) NOT NULL,
    delivery_log_id uuid
);

CREATE INDEX idx_message_history_customer ON message_history(customer_id, created_at);
CREATE INDEX idx_message_history_user_phone ON message_history(user_id, phone_number, created_at);

-- A customer's preferred channel and opt-out flag (kept in step with opt_outs).
CREATE TABLE customer_preferences (
    id                    uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    customer_id           uuid NOT NULL UNIQUE REFERENCES contacts(id) ON DELETE CASCADE,
    communication_channel varchar(10) NOT NULL DEFAULT 'sms'
                          CHECK (communication_channel IN ('sms', 'email')),
    opt_out               boolean NOT NULL DEFAULT false,
    user_id               uuid NOT NULL REFERENCES users(id),
    updated_at            timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- Each opt-out (or opt-in) request, with its date and source.
CREATE TABLE opt_out_requests (
    id            uuid PRIMARY KEY DEFAULT uuid_generate_v7(),
    customer_id   uuid REFERENCES contacts(id) ON DELETE SET NULL,
    request_date  date NOT NULL DEFAULT CURRENT_DATE,
    user_id       uuid NOT NULL REFERENCES users(id),
    phone_number  varchar(20) NOT NULL,
    action        varchar(10) NOT NULL DEFAULT 'opt_out' CHECK (action IN ('opt_out', 'opt_in')),
    source        varchar(20) NOT NULL CHECK (source IN ('api', 'dashboard', 'inbound_sms', 'import', 'admin')),
    requested_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    note          text
);

CREATE INDEX idx_opt_out_requests_user_phone ON opt_out_requests(user_id, phone_number, requested_at);

-- The suppression list: a number a tenant must not text. Keyed by (tenant, E.164 number),
-- not by contact, so it holds for every campaign and API send until the person opts back in.
CREATE TABLE opt_outs (
    user_id      uuid NOT NULL REFERENCES users(id),
    phone_number varchar(20) NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    source       varchar(20) NOT NULL,
    request_id   uuid REFERENCES opt_out_requests(id),
    PRIMARY KEY (user_id, phone_number)
);

-- Every communication attempt, with its channel, date and outcome.
CREATE TABLE communication_logs (
    id                    uuid PRIMARY KEY DEFAULT uuid_generate_v7(),
    customer_id           uuid REFERENCES contacts(id) ON DELETE SET NULL,
    communication_channel varchar(10) NOT NULL DEFAULT 'sms'
                          CHECK (communication_channel IN ('sms', 'email')),
    attempt_date          date NOT NULL DEFAULT CURRENT_DATE,
    success               boolean NOT NULL,
    user_id               uuid NOT NULL REFERENCES users(id),
    phone_number          varchar(20),
    delivery_log_id       uuid,
    attempted_at          timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    detail                text
);

CREATE INDEX idx_communication_logs_customer ON communication_logs(customer_id, attempted_at);
CREATE INDEX idx_communication_logs_user ON communication_logs(user_id, attempted_at);
