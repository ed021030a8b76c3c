-- Ordering x Catalog, joined once per publish so reports read one table instead of a four-way join.
-- One row per order line: its order's day (UTC), buyer and status, and the item's brand and type as the
-- catalog names them now. Left joins: a line whose item is not (yet) in the catalog export keeps its
-- revenue, with NULL brand and type.
SELECT
  oi.id AS order_item_id,
  oi.order_id,
  o.buyer_id,
  o.status,
  o.order_date,
  CAST(timezone('UTC', o.order_date) AS DATE) AS order_day,
  oi.catalog_item_id,
  oi.product_name,
  b.brand,
  t.type,
  oi.unit_price,
  oi.units,
  oi.discount,
  CAST(oi.units * oi.unit_price - oi.discount AS DECIMAL(12,2)) AS revenue
FROM ordering.order_items oi
JOIN ordering.orders o ON o.id = oi.order_id
LEFT JOIN catalog.catalog_items ci ON ci.id = oi.catalog_item_id
LEFT JOIN catalog.catalog_brands b ON b.id = ci.brand_id
LEFT JOIN catalog.catalog_types t ON t.id = ci.type_id
