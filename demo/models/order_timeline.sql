-- One row per order from its status history (ordering.order_status_changes): when it first reached each
-- status, and its latest status. The funnel and time-to-paid reports read this instead of pivoting the
-- history on every request.
SELECT
  order_id,
  min(changed_at) FILTER (WHERE status = 'submitted') AS submitted_at,
  min(changed_at) FILTER (WHERE status = 'awaitingvalidation') AS awaiting_validation_at,
  min(changed_at) FILTER (WHERE status = 'stockconfirmed') AS stock_confirmed_at,
  min(changed_at) FILTER (WHERE status = 'paid') AS paid_at,
  min(changed_at) FILTER (WHERE status = 'shipped') AS shipped_at,
  min(changed_at) FILTER (WHERE status = 'cancelled') AS cancelled_at,
  arg_max(status, changed_at) AS latest_status,
  count(*)::INTEGER AS changes
FROM ordering.order_status_changes
GROUP BY order_id
