-- (user_id, created_at DESC) on the delivery log was never read: the message list pages a
-- tenant's messages by (user_id, id), and a UUIDv7 id already orders them by time. Each
-- message paid for it with an index entry at its insert. Decision 0016.
DROP INDEX idx_delivery_logs_user_created;
