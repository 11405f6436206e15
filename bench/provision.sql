-- Bench population: :pairs pairs of subscribers 7916xxxxxxx (2i and 2i+1 form
-- pair i, as smsc-sim --load numbers them), each pair in an active dialog.
-- psql -v pairs=10000 -f bench/provision.sql
INSERT INTO region (code, tz, daily_fee, operator_fee) VALUES ('MOW', 'Europe/Moscow', 300, 4500)
    ON CONFLICT DO NOTHING;
INSERT INTO tariff (code, sms_price) VALUES ('BASIC', 150) ON CONFLICT DO NOTHING;
INSERT INTO subscriber (msisdn, contract, region, tariff, account_type)
SELECT '7916' || lpad(i::text, 7, '0'), 'B' || i, 'MOW', 'BASIC', 'postpaid'
  FROM generate_series(0, 2 * :pairs - 1) i;
INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, channel, created_at, activated_at)
SELECT a.id, b.id, a.msisdn, b.msisdn, 'active', 'sms', now(), now()
  FROM generate_series(0, :pairs - 1) i
  JOIN subscriber a ON a.msisdn = '7916' || lpad((2 * i)::text, 7, '0')
  JOIN subscriber b ON b.msisdn = '7916' || lpad((2 * i + 1)::text, 7, '0');
ANALYZE;
