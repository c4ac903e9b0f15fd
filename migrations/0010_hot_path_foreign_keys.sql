-- Every message writes a delivery log row and a send queue row, and each foreign key on them
-- costs a lookup of the referenced row with a share lock, per row: at a campaign's
-- expansion five such checks were about half of the insert's time. These three are Herald's
-- own additions (not the seed's), and their parents are never deleted: tenants are closed,
-- not removed, and campaigns are kept. The rows are written only by statements that take
-- the ids from the tenant and campaign they act for. See docs/decisions/0014.
-- The seed's own references (campaign_id and recipient_id of the delivery log) stay.

ALTER TABLE sms_delivery_logs DROP CONSTRAINT sms_delivery_logs_user_id_fkey;
ALTER TABLE send_queue DROP CONSTRAINT send_queue_user_id_fkey;
ALTER TABLE send_queue DROP CONSTRAINT send_queue_campaign_id_fkey;
