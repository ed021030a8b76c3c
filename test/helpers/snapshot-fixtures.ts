import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openDatabase } from '../../core/duckdb/index.ts'
import type { Watermark } from '../../lake/index.ts'
import { SnapshotStore, type SnapshotManifest } from '../../warehouse/snapshot-store.ts'
import { tempDir } from './temp-dir.ts'

export interface FixtureSnapshotOptions {
  /** Default: the store's next id. */
  id?: number
  publishedAt?: Date
  /** As-of time of every source (default: now). */
  sourcesAsOf?: Date
  /** Orders in ordering.orders (default 300). */
  orders?: number
  /** Written into coldpipe.snapshot.marker and every buyer's name suffix, to tell snapshots apart. */
  marker?: string
}

/**
 * A small eShop-like snapshot built with DuckDB and published through SnapshotStore: `ordering.buyers`,
 * `ordering.orders`, `catalog.catalog_items`, `catalog.catalog_brands`, and the `coldpipe` schema with
 * `snapshot` and `freshness`.
 */
export async function publishFixtureSnapshot(store: SnapshotStore, options: FixtureSnapshotOptions = {}): Promise<SnapshotManifest> {
  const id = options.id ?? (await store.nextId())
  const asOf = (options.sourcesAsOf ?? new Date()).toISOString()
  const publishedAt = (options.publishedAt ?? new Date()).toISOString()
  const orders = options.orders ?? 300
  const marker = options.marker ?? `snapshot-${id}`
  const buildPath = await store.newBuildPath()
  const db = await openDatabase(buildPath)
  try {
    await db.run(`
      CREATE SCHEMA ordering; CREATE SCHEMA catalog; CREATE SCHEMA coldpipe;
      CREATE TABLE catalog.catalog_brands AS
        SELECT range::INTEGER AS id, 'Brand ' || chr(65 + range::INTEGER) AS brand FROM range(5);
      CREATE TABLE catalog.catalog_items AS
        SELECT range::INTEGER AS id, 'Item ' || range AS name, (range % 5)::INTEGER AS brand_id,
               (5 + range * 1.25)::DECIMAL(10,2) AS price, (100 - range)::INTEGER AS available_stock
        FROM range(40);
      CREATE TABLE ordering.buyers AS
        SELECT range::INTEGER AS id, 'Buyer ' || range || ' ' || $marker AS name, 'buyer' || range || '@example.com' AS email,
               ['DE', 'FR', 'NL', 'US'][(range % 4) + 1] AS country
        FROM range(50);
      CREATE TABLE ordering.orders AS
        SELECT range::BIGINT AS id, (range % 50)::INTEGER AS buyer_id, (range % 40)::INTEGER AS item_id,
               (1 + range % 3)::INTEGER AS quantity, (5 + (range % 40) * 1.25)::DECIMAL(10,2) AS unit_price,
               (range * 1000000007)::BIGINT AS big_number,
               DATE '2024-01-01' + (range % 60)::INTEGER AS order_date,
               TIMESTAMP '2024-01-01 08:00:00' + to_minutes(range::BIGINT * 37) AS created_at,
               ['submitted', 'paid', 'shipped', 'cancelled'][(range % 4) + 1] AS status
        FROM range($orders);
      CREATE TABLE coldpipe.snapshot AS SELECT $id::INTEGER AS id, $marker AS marker, $publishedAt::TIMESTAMPTZ AS published_at;
      CREATE TABLE coldpipe.freshness AS
        SELECT * FROM (VALUES ('ordering.orders', '42', $asOf::TIMESTAMPTZ, 0), ('catalog.catalog_items', NULL, $asOf::TIMESTAMPTZ, 0),
                              ('ordering.buyers', '7', $asOf::TIMESTAMPTZ, 0))
          AS t(source, position, as_of, lag_seconds);
    `.replace(/\$marker/g, `'${marker.replace(/'/g, "''")}'`).replace(/\$orders/g, String(orders)).replace(/\$id/g, String(id))
      .replace(/\$publishedAt/g, `'${publishedAt}'`).replace(/\$asOf/g, `'${asOf}'`))
  } finally {
    db.close()
  }
  const watermarks: Watermark[] = [
    { key: 'kafka:ordering.public.orders:0', service: 'ordering', table: 'orders', kind: 'kafka-offset', position: '42', asOf },
    { key: 'export:ordering.buyers', service: 'ordering', table: 'buyers', kind: 'export-full', position: null, asOf },
    { key: 'export:catalog.catalog_items', service: 'catalog', table: 'catalog_items', kind: 'export-full', position: null, asOf },
  ]
  return store.publish(buildPath, {
    id,
    publishedAt,
    lakeVersion: id,
    watermarks,
    tables: [
      { schema: 'ordering', name: 'orders', rows: orders },
      { schema: 'ordering', name: 'buyers', rows: 50 },
      { schema: 'catalog', name: 'catalog_items', rows: 40 },
    ],
  })
}

/** A fresh warehouse folder (removed after the test) and its store. */
export async function fixtureWarehouse(): Promise<{ dir: string; store: SnapshotStore }> {
  const dir = await tempDir('coldpipe-wh-')
  return { dir, store: new SnapshotStore(dir) }
}

export const fixtureReports: Record<string, string> = {
  'top_buyers.sql': `/*---
name: top_buyers
title: Top buyers with their profile
description: Buyers ranked by revenue, joined to their profile.
params:
  top: { type: integer, default: 20, minimum: 1, maximum: 1000, description: How many buyers }
  country: { type: string, required: false, enum: [DE, FR, NL, US], description: Only buyers from this country }
columns: [buyer_id, name, email, country, orders, revenue]
chart: { type: bar, x: name, y: revenue }
---*/
select b.id as buyer_id, b.name, b.email, b.country, count(*) as orders, sum(o.quantity * o.unit_price) as revenue
from ordering.orders o join ordering.buyers b on b.id = o.buyer_id
where ($country is null or b.country = $country)
group by all
order by revenue desc, buyer_id
limit $top
`,
  'orders_by_day.sql': `/*---
name: orders_by_day
title: Orders per day
params:
  from: { type: date, required: false, description: First day }
  to: { type: date, required: false }
  status: { type: string, required: false }
columns: [order_date, orders, units, big_total]
chart: { type: line, x: order_date, y: orders }
---*/
select order_date, count(*) as orders, sum(quantity) as units, sum(big_number) as big_total
from ordering.orders
where ($from is null or order_date >= $from) and ($to is null or order_date <= $to) and ($status is null or status = $status)
group by order_date
order by order_date
`,
  'all_orders.sql': `/*---
name: all_orders
title: Every order
params:
  paid: { type: boolean, required: false }
  min_price: { type: number, required: false, minimum: 0 }
  since: { type: timestamp, required: false }
columns: [id, buyer_id, unit_price, big_number, created_at, status]
---*/
select id, buyer_id, unit_price, big_number, created_at, status
from ordering.orders
where ($paid is null or (status = 'paid') = $paid) and ($min_price is null or unit_price >= $min_price) and ($since is null or created_at >= $since)
order by id
`,
  'stock.sql': `/*---
name: stock
title: Stock by brand
maxStalenessSeconds: 3600
columns: [brand, items, stock]
---*/
select br.brand, count(*) as items, sum(i.available_stock) as stock
from catalog.catalog_items i join catalog.catalog_brands br on br.id = i.brand_id
group by br.brand order by br.brand
`,
  'which_snapshot.sql': `/*---
name: which_snapshot
title: Marker of the snapshot
---*/
select id, marker from coldpipe.snapshot
`,
}

/** A folder of report files (the fixture reports plus `extra`), removed after the test. */
export async function fixtureReportsDir(extra: Record<string, string> = {}, options: { withDefaults?: boolean } = {}): Promise<string> {
  const dir = await tempDir('coldpipe-reports-')
  const files = { ...(options.withDefaults === false ? {} : fixtureReports), ...extra }
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
  return dir
}
