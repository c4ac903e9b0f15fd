-- A campaign message's log row is written three times in quick succession: inserted
-- `queued`, updated `sent` by the outcome writer, updated again by its receipt. The outcome
-- updates a whole batch in one transaction, so every row of a page needs room for its next
-- version at once: the old one is not dead until that transaction commits. At fillfactor 70
-- about half of those updates did not fit, went to another page, and wrote a new entry in
-- each of the log's five indexes. At 40 about nine in ten stay on their page (HOT) and
-- touch no index. Measured over 200,000-recipient campaigns (decision 0016): sending about
-- 22% faster, PostgreSQL CPU 15% lower, and the log plus its indexes 17% larger a campaign.

DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits
                WHERE inhparent = 'sms_delivery_logs'::regclass LOOP
        EXECUTE format('ALTER TABLE %s SET (fillfactor = 40)', part);
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
                           'WITH (fillfactor = 40)', part, m, (m + interval '1 month')::date);
            created := created + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END
$$;
