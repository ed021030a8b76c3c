/*---
name: revenue_by_brand_type
title: Revenue per day by brand and type
description: >-
  Ordering x Catalog. Revenue of order lines (units x unit price - discount) of orders that were not
  cancelled, per order day (UTC), catalog brand and type. Reads the order_lines_enriched read model.
params:
  from: { type: date, description: First order day (inclusive) }
  to: { type: date, description: Last order day (inclusive) }
  brand: { type: string, required: false, description: Only this brand (e.g. Azure) }
columns: [day, brand, type, orders, units, revenue]
sources: [ordering.orders, ordering.order_items, catalog.catalog_items, catalog.catalog_brands, catalog.catalog_types]
---*/
-- No chart: a day has one row per brand and type, which a single x/y line cannot show.
SELECT
  order_day AS day,
  brand,
  type,
  count(DISTINCT order_id)::INTEGER AS orders,
  sum(units)::INTEGER AS units,
  sum(revenue) AS revenue
FROM analytics.order_lines_enriched
WHERE status <> 'cancelled'
  AND order_day BETWEEN CAST($from AS DATE) AND CAST($to AS DATE)
  AND ($brand IS NULL OR brand = $brand)
GROUP BY order_day, brand, type
ORDER BY day, brand, type
