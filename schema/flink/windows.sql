-- quotetape: the 5-second windows of `quotetape window`, in Flink SQL for
-- Confluent Cloud. Produces the same rows (schema/window.schema.json) into
-- the topic `quotes.w5s`. How to run it and read its output: docs/flink.md.
--
-- Semantics, as `quotetape window --size 5s --lateness 1s`:
--   event time  = the Kafka message timestamp ($rowtime), which quotetape
--                 sets to the quote's event time in ms;
--   watermark   = highest $rowtime seen - 1 second;
--   windows     = TUMBLE 5 s, [start, start + 5 s), one final row per symbol
--                 and window once the watermark reaches end - 1 ms;
--   late quotes = dropped (Flink drops rows behind the watermark).

-- Timestamps are written in UTC, as the viewer reads them.
SET 'sql.local-time-zone' = 'UTC';

-- 1. The quotes topic as quotetape writes it: key = symbol, value = the
--    Alpaca quote object as plain JSON (no schema registry), so both are
--    read raw and the JSON is picked apart below.
CREATE TABLE IF NOT EXISTS `quotes` (
  `key` VARBINARY(2147483647),
  `val` VARBINARY(2147483647)
) DISTRIBUTED BY (`key`) INTO 1 BUCKETS
WITH (
  'key.format' = 'raw',
  'value.format' = 'raw',
  'scan.startup.mode' = 'earliest-offset'
);

-- The same watermark as `quotetape window --lateness 1s` (Confluent's
-- default watermark strategy is a heuristic; this makes it exact).
ALTER TABLE `quotes` MODIFY WATERMARK FOR `$rowtime` AS `$rowtime` - INTERVAL '1' SECOND;

-- 2. The fields the windows need, as real numbers.
CREATE VIEW IF NOT EXISTS `quote_ticks` AS
SELECT
  JSON_VALUE(CAST(`val` AS STRING), '$.S') AS symbol,
  CAST(JSON_VALUE(CAST(`val` AS STRING), '$.bp') AS DOUBLE) AS bid_price,
  CAST(JSON_VALUE(CAST(`val` AS STRING), '$.ap') AS DOUBLE) AS ask_price,
  `$rowtime` AS rowtime
FROM `quotes`
WHERE JSON_VALUE(CAST(`val` AS STRING), '$.T') = 'q';

-- 3. The output topic: key = symbol, one partition (DISTRIBUTED ... INTO 1
--    BUCKETS), so the windows of all symbols stay in window order for the
--    viewer. Values in JSON Schema format: each message starts with the
--    5-byte schema-registry header (0x00 + schema id), which the viewer skips.
CREATE TABLE IF NOT EXISTS `quotes.w5s` (
  symbol       STRING NOT NULL,
  window_start STRING NOT NULL,  -- 'yyyy-MM-dd HH:mm:ss.SSS', UTC, 24-hour clock
  window_end   STRING NOT NULL,
  price        DOUBLE NOT NULL,  -- AVG(bid_price), a real number
  `count`      BIGINT NOT NULL,
  bid_open     DOUBLE,
  bid_high     DOUBLE,
  bid_low      DOUBLE,
  bid_close    DOUBLE,
  ask_avg      DOUBLE
) DISTRIBUTED BY (symbol) INTO 1 BUCKETS
WITH (
  'key.format' = 'raw',
  'value.format' = 'json-registry',
  'changelog.mode' = 'append'
);

-- 4. The job.
INSERT INTO `quotes.w5s`
SELECT
  symbol,
  DATE_FORMAT(window_start, 'yyyy-MM-dd HH:mm:ss.SSS') AS window_start,
  DATE_FORMAT(window_end, 'yyyy-MM-dd HH:mm:ss.SSS') AS window_end,
  CAST(AVG(bid_price) AS DOUBLE) AS price,
  COUNT(*) AS `count`,
  FIRST_VALUE(bid_price) AS bid_open,
  MAX(bid_price) AS bid_high,
  MIN(bid_price) AS bid_low,
  LAST_VALUE(bid_price) AS bid_close,
  CAST(AVG(ask_price) AS DOUBLE) AS ask_avg
FROM TABLE(
  TUMBLE(TABLE `quote_ticks`, DESCRIPTOR(rowtime), INTERVAL '5' SECOND))
GROUP BY symbol, window_start, window_end;
