-- Deleting a contact sets the delivery log's recipient_id to NULL (the seed's ON DELETE SET
-- NULL), and without an index leading with recipient_id PostgreSQL found those rows by
-- reading every partition of the log: 220 ms for one contact at 400,000 messages, growing
-- with the log. With it: 11 ms, the first time. Contact ids are UUIDv7 and a campaign writes its
-- recipients in id order, so the entries are mostly appended; a 200,000-recipient campaign
-- went out at the same rate with and without it (docs/PERFORMANCE.md).
-- On an existing large log this builds the index once, holding off writes to the log while
-- it does.
CREATE INDEX idx_delivery_logs_recipient ON sms_delivery_logs(recipient_id);

-- The same for the other rows Herald deletes, on small tables: deleting a group looked
-- through every import and every campaign's audience, and deleting a contact through every
-- opt-out request.
CREATE INDEX idx_contact_imports_group ON contact_imports(group_id);
CREATE INDEX idx_campaign_groups_group ON sms_campaign_groups(group_id);
CREATE INDEX idx_opt_out_requests_customer ON opt_out_requests(customer_id);
