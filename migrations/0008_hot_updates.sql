-- A message's row changes status four times on its way (queued, sending, sent, delivered),
-- and its part and queue rows change too. With an index on status every change rewrote an
-- entry in each of the log's seven indexes; without one, and with room left in each page,
-- PostgreSQL updates the row in place (a HOT update) and touches no index. Lists by status
-- go through the tenant's (user_id, id) index or the campaign's index instead. Decision 0009.

DROP INDEX idx_delivery_logs_status;

-- Room in every page for the next version of its rows. Partitioned tables take no storage
-- parameters, so each partition gets them, and the function that makes partitions passes
-- them on.
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits
                WHERE inhparent = 'sms_delivery_logs'::regclass LOOP
        EXECUTE format('ALTER TABLE %s SET (fillfactor = 70)', part);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION herald_ensure_delivery_log_partitions(from_month date, months integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_month)::date;
    created integer := 0;
    part text;
BEGIN
    -- One maintainer at a time: CREATE TABLE ... PARTITION OF takes locks that would
    -- otherwise deadlock between nodes.
    PERFORM pg_advisory_xact_lock(72830002);
    FOR i IN 0 .. months - 1 LOOP
        part := format('sms_delivery_logs_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF sms_delivery_logs FOR VALUES FROM (%L) TO (%L) '
                           'WITH (fillfactor = 70)', part, m, (m + interval '1 month')::date);
            created := created + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END
$$;

ALTER TABLE sms_message_parts SET (fillfactor = 80);
-- The queue is written and emptied all the time: vacuum it after every few thousand dead
-- rows, whatever its size, so that claims do not wade through them.
ALTER TABLE send_queue SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0,
                            autovacuum_vacuum_threshold = 5000,
                            autovacuum_analyze_scale_factor = 0.05);
