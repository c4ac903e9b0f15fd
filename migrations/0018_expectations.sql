-- A statement that checks, inside a transaction, what its writer assumed when it built the
-- rest: herald_expect(condition, what) returns true, or raises SQLSTATE HR001 with `what`.
-- The group commit of POST /v1/messages sends its checks, writes and COMMIT in one round
-- trip when it already knows the sender and price they will find (docs/decisions/0024); a
-- failed expectation aborts the transaction, so the COMMIT after it rolls everything back
-- and the batch is written again the way that reads first.
CREATE FUNCTION herald_expect(ok boolean, what text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'expected %, and it no longer holds', what USING ERRCODE = 'HR001';
    END IF;
    RETURN true;
END
$$;
