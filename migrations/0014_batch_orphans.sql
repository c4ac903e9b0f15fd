-- A batch finds its messages by recipient id, and deleting a contact sets the log's
-- recipient_id to NULL (the seed's ON DELETE SET NULL). Deleting a contact cancels its
-- messages in batches no node holds; one in a batch a node holds is in that node's hands
-- and goes out. But if that node then dies, the batch is claimed again and the message,
-- without its recipient id, is not found: it stayed `queued` for ever, paid and never
-- refunded. Its log id is kept here instead, so that whoever takes the batch over (a
-- second claim, or the cancellation of the campaign) cancels and refunds it. Decision 0015.
ALTER TABLE campaign_batches ADD COLUMN orphans uuid[] NOT NULL DEFAULT '{}';
