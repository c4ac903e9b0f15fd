-- Campaign sending: how far the audience has been expanded into the delivery log, and the
-- campaign of each queued message (so paused campaigns' messages are not claimed).

ALTER TABLE sms_campaigns
    ADD COLUMN expansion_cursor uuid,         -- last contact id written to the delivery log
    ADD COLUMN expanded_at      timestamptz,  -- the audience is fully in the delivery log
    ADD COLUMN suppressed       integer NOT NULL DEFAULT 0;  -- audience members skipped (opted out)

ALTER TABLE send_queue ADD COLUMN campaign_id uuid REFERENCES sms_campaigns(id);
CREATE INDEX idx_send_queue_campaign ON send_queue(campaign_id) WHERE campaign_id IS NOT NULL;
CREATE INDEX idx_campaigns_running ON sms_campaigns(status, scheduled_time) WHERE status IN ('scheduled', 'running');
