-- Bench population: :pairs pairs of subscribers 7916xxxxxxx (2i and 2i+1 form
-- pair i, as smsc-sim --load numbers them), each pair in an active dialog.
-- psql -v pairs=10000 -f bench/provision.sql
\ir provision_subscribers.sql
INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, channel, created_at, activated_at)
SELECT a.id, b.id, a.msisdn, b.msisdn, 'active', 'sms', now(), now()
  FROM generate_series(0, :pairs - 1) i
  JOIN subscriber a ON a.msisdn = '7916' || lpad((2 * i)::text, 7, '0')
  JOIN subscriber b ON b.msisdn = '7916' || lpad((2 * i + 1)::text, 7, '0');
ANALYZE;
