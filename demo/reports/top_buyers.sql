/*---
name: top_buyers
title: Top buyers with their profile
description: >-
  Ordering x Identity. Buyers ranked by revenue (order totals, cancelled orders left out), with the
  profile of the Identity user behind each buyer.
params:
  top: { type: integer, default: 20, minimum: 1, maximum: 1000, description: How many buyers }
  country: { type: string, required: false, description: Only buyers whose profile is in this country (e.g. Spain) }
columns: [buyer_id, name, email, country, city, orders, revenue, first_order, last_order]
chart: { type: bar, x: name, y: revenue }
sources: [ordering.orders, ordering.buyers, identity.users]
---*/
WITH spend AS (
  SELECT buyer_id, count(*)::INTEGER AS orders, sum(total) AS revenue, min(order_date) AS first_order, max(order_date) AS last_order
  FROM ordering.orders
  WHERE status <> 'cancelled'
  GROUP BY buyer_id
)
SELECT b.id AS buyer_id, u.name, u.email, u.country, u.city, s.orders, s.revenue, s.first_order, s.last_order
FROM spend s
JOIN ordering.buyers b ON b.id = s.buyer_id
LEFT JOIN identity.users u ON u.id = b.user_id
WHERE $country IS NULL OR u.country = $country
ORDER BY s.revenue DESC, b.id
LIMIT $top
