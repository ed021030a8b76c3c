/*---
name: order_status_funnel
title: Order status funnel and time to paid
description: >-
  From the order status history: per month of submission (UTC), how many orders reached each status, and
  the median hours from submitted to paid over the orders that were paid. Reads the order_timeline read model.
params:
  from: { type: date, required: false, description: Only orders submitted on or after this day }
  to: { type: date, required: false, description: Only orders submitted on or before this day }
columns: [month, submitted, awaiting_validation, stock_confirmed, paid, shipped, cancelled, median_hours_to_paid]
chart: { type: bar, x: month, y: paid }
sources: [ordering.order_status_changes]
---*/
SELECT
  strftime(timezone('UTC', submitted_at), '%Y-%m') AS month,
  count(*)::INTEGER AS submitted,
  count(awaiting_validation_at)::INTEGER AS awaiting_validation,
  count(stock_confirmed_at)::INTEGER AS stock_confirmed,
  count(paid_at)::INTEGER AS paid,
  count(shipped_at)::INTEGER AS shipped,
  count(cancelled_at)::INTEGER AS cancelled,
  CAST(round(median(epoch(paid_at - submitted_at)) / 3600, 1) AS DECIMAL(10,1)) AS median_hours_to_paid
FROM analytics.order_timeline
WHERE submitted_at IS NOT NULL
  AND ($from IS NULL OR CAST(timezone('UTC', submitted_at) AS DATE) >= CAST($from AS DATE))
  AND ($to IS NULL OR CAST(timezone('UTC', submitted_at) AS DATE) <= CAST($to AS DATE))
GROUP BY month
ORDER BY month
