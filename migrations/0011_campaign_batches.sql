-- Campaign messages are claimed a batch at a time instead of through one send_queue row
-- each (docs/decisions/0015). The expansion writes the audience into the delivery log as
-- before, and for every run of recipients one row here: the recipients of the campaign with
-- after_id < recipient_id <= last_id. Nodes lease batches with FOR UPDATE SKIP LOCKED like
-- queue rows; a batch is deleted once every message in it has an outcome. A message that
-- must wait (quiet hours, a TPS cap, a transient error) leaves its batch for the send queue.

CREATE TABLE campaign_batches (
    campaign_id  uuid NOT NULL,
    last_id      uuid NOT NULL,                -- the batch's highest recipient (contact) id
    after_id     uuid NOT NULL,                -- its recipients come after this id
    created_at   timestamptz NOT NULL,         -- the partition key of its delivery log rows
    user_id      uuid NOT NULL,
    recipients   integer NOT NULL,
    charged      boolean NOT NULL DEFAULT false,  -- its sendable messages have been debited
    attempts     integer NOT NULL DEFAULT 0,
    lease_owner  text,
    lease_until  timestamptz,
    PRIMARY KEY (campaign_id, last_id)
) WITH (fillfactor = 50);

-- A batch reads its messages by (campaign_id, recipient_id) range. The seed's index on
-- campaign_id alone is a prefix of the unique (campaign_id, recipient_id, created_at) index,
-- so it answers nothing that one cannot; but the planner, misled by statistics taken while
-- a campaign was being written, read a batch through it and filtered every message of the
-- campaign (200 ms a batch instead of 0.2). It also cost an index entry per message.
DROP INDEX idx_delivery_logs_campaign_id;

-- How many parts the message of each part has. A receipt for a one-part message gives the
-- message its final status at once, without writing the part or gathering its siblings.
-- Rows from before this migration have none, and take the general path.
ALTER TABLE sms_message_parts ADD COLUMN parts smallint;
