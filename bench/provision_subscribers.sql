-- Bench subscribers: :pairs pairs 7916xxxxxxx (2i and 2i+1 form pair i, as
-- smsc-sim --load numbers them), postpaid, region MOW, tariff BASIC; no
-- dialogs (bench/commands.sh invites them; bench/provision.sql adds dialogs).
INSERT INTO region (code, tz, daily_fee, operator_fee) VALUES ('MOW', 'Europe/Moscow', 300, 4500)
    ON CONFLICT DO NOTHING;
INSERT INTO tariff (code, sms_price) VALUES ('BASIC', 150) ON CONFLICT DO NOTHING;
INSERT INTO subscriber (msisdn, contract, region, tariff, account_type)
SELECT '7916' || lpad(i::text, 7, '0'), 'B' || i, 'MOW', 'BASIC', 'postpaid'
  FROM generate_series(0, 2 * :pairs - 1) i;
