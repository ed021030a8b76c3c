/*---
name: stock_vs_sold
title: Stock vs units sold
description: >-
  Catalog x Ordering. Every catalog item's available stock and restock threshold next to the units sold
  in the date range (order days in UTC, cancelled orders left out). Items that sold nothing are listed with 0.
params:
  from: { type: date, description: First order day (inclusive) }
  to: { type: date, description: Last order day (inclusive) }
  below_threshold: { type: boolean, default: false, description: Only items whose stock is at or below their restock threshold }
columns: [catalog_item_id, name, brand, type, available_stock, restock_threshold, below_threshold, units_sold, orders]
chart: { type: bar, x: name, y: units_sold }
sources: [catalog.catalog_items, catalog.catalog_brands, catalog.catalog_types, ordering.orders, ordering.order_items]
---*/
WITH sold AS (
  SELECT catalog_item_id, sum(units)::INTEGER AS units_sold, count(DISTINCT order_id)::INTEGER AS orders
  FROM analytics.order_lines_enriched
  WHERE status <> 'cancelled' AND order_day BETWEEN CAST($from AS DATE) AND CAST($to AS DATE)
  GROUP BY catalog_item_id
)
SELECT
  i.id AS catalog_item_id,
  i.name,
  b.brand,
  t.type,
  i.available_stock,
  i.restock_threshold,
  i.available_stock <= i.restock_threshold AS below_threshold,
  coalesce(s.units_sold, 0) AS units_sold,
  coalesce(s.orders, 0) AS orders
FROM catalog.catalog_items i
LEFT JOIN catalog.catalog_brands b ON b.id = i.brand_id
LEFT JOIN catalog.catalog_types t ON t.id = i.type_id
LEFT JOIN sold s ON s.catalog_item_id = i.id
WHERE NOT $below_threshold OR i.available_stock <= i.restock_threshold
ORDER BY units_sold DESC, catalog_item_id
