-- Idempotency keys store a command's definitive outcome — a success or the
-- command's own refusal (400, 404, 409, 422) — and replay it with the
-- headers it had: a refusal is a problem document, a 201 has a Location.
-- A row with a NULL status has no outcome: its command is in flight (its
-- owner holds an advisory lock on the key) or is to be run again.
ALTER TABLE idempotency_keys
    ADD COLUMN content_type text,
    ADD COLUMN location     text;

-- Until now only successes were stored, all of them JSON; a 201's Location
-- was derived from its body when replayed.
UPDATE idempotency_keys SET content_type = 'application/json' WHERE status IS NOT NULL;
UPDATE idempotency_keys
   SET location = CASE
           WHEN convert_from(response, 'UTF8')::jsonb ->> 'batch_id' <> ''
               THEN '/v1/payroll/batches/' || (convert_from(response, 'UTF8')::jsonb ->> 'batch_id')
           WHEN convert_from(response, 'UTF8')::jsonb ->> 'person_id' <> ''
               THEN '/v1/persons/' || (convert_from(response, 'UTF8')::jsonb ->> 'person_id')
       END
 WHERE status = 201 AND response IS NOT NULL;
