-- Status webhooks: each account's URL and signing secret, one row per event to deliver
-- (queued in the same transaction as the status change it reports), and every attempt.

ALTER TABLE users
    ADD COLUMN webhook_url    text CHECK (webhook_url ~ '^https?://'),
    -- Signs each call (HMAC-SHA256). A shared secret the receiver also holds, so it is kept
    -- as is, like an SMPP password; only its owner can read it back.
    ADD COLUMN webhook_secret text NOT NULL
        DEFAULT 'whsec_' || replace(gen_random_uuid()::text, '-', '')
                         || replace(gen_random_uuid()::text, '-', '');

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users(id),
    log_id           uuid NOT NULL,               -- the message it reports on
    url              text NOT NULL,
    event            varchar(40) NOT NULL DEFAULT 'message.status',
    status           varchar(20) NOT NULL         -- the message status reported
                     CHECK (status IN ('sent', 'delivered', 'undelivered', 'expired', 'rejected',
                                       'failed', 'canceled')),
    payload          text NOT NULL,               -- the JSON body, fixed when queued
    state            varchar(20) NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    lease_owner      text,
    lease_until      timestamptz,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    finished_at      timestamptz
);
CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE state = 'pending';
CREATE INDEX idx_webhook_deliveries_user ON webhook_deliveries(user_id, id);
CREATE INDEX idx_webhook_deliveries_log ON webhook_deliveries(log_id);

CREATE TABLE webhook_attempts (
    delivery_id  uuid NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt      integer NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    status_code  integer,             -- NULL: no answer (see error)
    error        text,
    duration_ms  integer NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
