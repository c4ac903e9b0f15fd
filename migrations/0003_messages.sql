-- Sending: sender IDs, the durable send queue, message parts for receipts, and idempotency
-- keys for POST /v1/messages.

-- The sender IDs a tenant may use (managed by an admin); at most one is the default.
CREATE TABLE sender_ids (
    user_id    uuid NOT NULL REFERENCES users(id),
    sender_id  varchar(20) NOT NULL,
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    created_by uuid REFERENCES users(id),
    PRIMARY KEY (user_id, sender_id)
);
CREATE UNIQUE INDEX idx_sender_ids_default ON sender_ids(user_id) WHERE is_default;

-- Messages waiting to go out. A row exists from acceptance until the SMSC answered for
-- good; nodes claim due rows with FOR UPDATE SKIP LOCKED and hold them under a lease.
CREATE TABLE send_queue (
    log_id      uuid PRIMARY KEY,
    created_at  timestamptz NOT NULL,         -- the delivery log row's partition key
    user_id     uuid NOT NULL REFERENCES users(id),
    due_at      timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    attempts    integer NOT NULL DEFAULT 0,
    lease_owner text,
    lease_until timestamptz
);
CREATE INDEX idx_send_queue_due ON send_queue(due_at);

-- Each part the SMSC accepted, by its message id, so receipts find their message. A message
-- is delivered when every part is.
CREATE TABLE sms_message_parts (
    external_message_id varchar(100) NOT NULL,
    connector           varchar(50) NOT NULL,
    log_id              uuid NOT NULL,
    log_created_at      timestamptz NOT NULL,
    part_number         smallint NOT NULL,
    status              varchar(20) NOT NULL DEFAULT 'sent'
                        CHECK (status IN ('sent', 'delivered', 'undelivered', 'expired', 'rejected')),
    error_code          varchar(50),
    updated_at          timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (connector, external_message_id)
);
CREATE INDEX idx_sms_message_parts_log ON sms_message_parts(log_id);

CREATE INDEX idx_delivery_logs_user_id ON sms_delivery_logs(user_id, id);

-- Replays of POST /v1/messages with the same Idempotency-Key get the first answer.
CREATE TABLE idempotency_keys (
    user_id         uuid NOT NULL REFERENCES users(id),
    key             varchar(200) NOT NULL,
    request_hash    text NOT NULL,
    response_status integer,
    response_body   text,
    created_at      timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (user_id, key)
);

-- How long the SMSC should keep trying (SMPP validity period), when the sender set one.
ALTER TABLE sms_delivery_logs ADD COLUMN validity_seconds integer CHECK (validity_seconds > 0);
