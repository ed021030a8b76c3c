/*---
name: live_order_funnel
title: Live order funnel from change events
description: >-
  Built from change history, not from an export: every CDC envelope of the simulated live orders that
  reached Kafka (ordering.orders_cdc__history). Per status, how many orders reached it and the median
  seconds from submission to reaching it. Grows while the demo runs (a snapshot is published every minute).
params:
  since: { type: timestamp, required: false, description: Only orders submitted at or after this time (UTC) }
columns: [step, status, orders, median_seconds_from_submitted]
chart: { type: bar, x: status, y: orders }
sources: [ordering.orders_cdc]
---*/
WITH reached AS (
  -- The first time each order was seen in each status; deletes carry no new status.
  SELECT id, status, min(updated_at) AS reached_at
  FROM ordering.orders_cdc__history
  WHERE _cp_op IN ('c', 'u', 'r')
  GROUP BY id, status
),
submitted AS (
  SELECT id, reached_at FROM reached WHERE status = 'submitted'
)
SELECT
  list_position(['submitted', 'awaitingvalidation', 'stockconfirmed', 'paid', 'shipped', 'cancelled'], r.status)::INTEGER AS step,
  r.status,
  count(*)::INTEGER AS orders,
  CAST(round(median(epoch(r.reached_at - s.reached_at)), 1) AS DECIMAL(10,1)) AS median_seconds_from_submitted
FROM reached r
JOIN submitted s USING (id)
WHERE $since IS NULL OR s.reached_at >= CAST($since AS TIMESTAMP)
GROUP BY r.status
ORDER BY step
