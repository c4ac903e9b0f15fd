-- Parts are looked up by their message only to gather the siblings of a message of several
-- parts, when a receipt for one of them comes in (store::record_receipts). A one-part
-- message's receipt sets its status directly (migration 0011), so its part row needs no entry
-- here: nearly every message, and one index insertion (and WAL record) each. Rows from before
-- migration 0011 have no count and stay in the index.
DROP INDEX idx_sms_message_parts_log;
CREATE INDEX idx_sms_message_parts_log ON sms_message_parts(log_id) WHERE parts IS DISTINCT FROM 1;
