-- The delivery log's references to the campaign and the contact are kept by Herald's own
-- statements instead of foreign keys (docs/decisions/0018). Each key cost a lookup of its
-- parent per row written, and the contact's a row lock on it too (a WAL record and a dirtied
-- contacts page per recipient): 31 of 86 ms when 5,000 rows are written. Campaigns are
-- never deleted; the expansion takes both ids from the campaign it holds locked and the
-- contacts it has just read; and deleting a contact clears recipient_id itself, as
-- ON DELETE SET NULL did (store::delete_contact), after waiting for any expansion of the
-- tenant's campaigns in progress.
ALTER TABLE sms_delivery_logs DROP CONSTRAINT sms_delivery_logs_recipient_id_fkey;
ALTER TABLE sms_delivery_logs DROP CONSTRAINT sms_delivery_logs_campaign_id_fkey;
