-- Whether a queued campaign message has been paid for. It used to be inferred from the
-- attempt count, but a retry that does not count as an attempt (no connector up) lowers
-- that count again, and the message was charged a second time. The flag is set in the
-- same transaction as the debit and never cleared.

ALTER TABLE send_queue ADD COLUMN charged boolean NOT NULL DEFAULT false;
UPDATE send_queue SET charged = true WHERE campaign_id IS NOT NULL AND attempts > 0;
