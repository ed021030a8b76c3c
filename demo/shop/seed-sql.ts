/**
 * SQL pieces shared by the three services' seeds. Catalog, Ordering and Identity cannot read each other's
 * databases, yet Ordering's rows must agree with the others (an order line names a real catalog item at its
 * price, a buyer is an Identity user). So each seed recomputes the rows it needs from the same formulas: the
 * same SELECT run in two databases gives the same rows, because every "random" value is a hash of the row
 * number, never random() or now().
 */

/** How many rows the seed generates (orders' lines and status history follow from these). */
export const shopSeedSize = { brands: 12, types: 8, items: 200, users: 1600, buyers: 1500, orders: 6000 } as const

/** The seed's clock: orders are placed in [ordersFrom, ordersUntil); nothing happens at or after seedNow. */
export const shopSeedDates = { ordersFrom: '2026-05-01', ordersUntil: '2026-11-01', seedNow: '2026-11-01 00:00:00+00' } as const

const literalArray = (values: readonly (string | number)[]): string =>
  `ARRAY[${values.map((v) => (typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`)).join(', ')}]`

export const brands = ['.NET', 'Azure', 'Visual Studio', 'SQL Server', 'Roslyn', 'Blazor', 'Aspire', 'PowerShell', 'GitHub', 'Kubernetes', 'Docker', 'Other'] as const
export const types = ['Mug', 'T-Shirt', 'Sheet', 'USB Memory Stick', 'Hoodie', 'Cap', 'Sticker Pack', 'Backpack'] as const
/** A type's base price in cents; an item adds up to 20.00 to it. */
const typeBaseCents = [899, 1499, 399, 1299, 3999, 1799, 499, 4999] as const
const variants = ['Classic', 'Pro', 'Lite', 'Limited', 'Retro', 'Neon', 'Midnight', 'Summit', 'Bot', 'Cloud'] as const
const firstNames = ['Ada', 'Alan', 'Grace', 'Linus', 'Margaret', 'Dennis', 'Barbara', 'Ken', 'Frances', 'Edsger', 'Radia', 'Bjarne', 'Sophie', 'Guido', 'Hedy', 'Tim', 'Katherine', 'James', 'Jean', 'Niklaus', 'Anita', 'Donald', 'Adele', 'John', 'Joan', 'Brian', 'Mary', 'Leslie', 'Carol', 'Robin'] as const
const lastNames = ['Lovelace', 'Turing', 'Hopper', 'Torvalds', 'Hamilton', 'Ritchie', 'Liskov', 'Thompson', 'Allen', 'Dijkstra', 'Perlman', 'Stroustrup', 'Wilson', 'Rossum', 'Lamarr', 'Berners-Lee', 'Johnson', 'Gosling', 'Sammet', 'Wirth', 'Borg', 'Knuth', 'Goldberg', 'Backus', 'Clarke', 'Kernighan', 'Keller', 'Lamport', 'Shaw', 'Milner'] as const
/** Where users live (the simulator ships to the first six too). */
const places = [
  ['Seattle', 'USA'], ['Redmond', 'USA'], ['Barcelona', 'Spain'], ['Madrid', 'Spain'], ['London', 'UK'], ['Berlin', 'Germany'],
  ['New York', 'USA'], ['Austin', 'USA'], ['Valencia', 'Spain'], ['Manchester', 'UK'], ['Edinburgh', 'UK'], ['Munich', 'Germany'],
  ['Hamburg', 'Germany'], ['Paris', 'France'], ['Lyon', 'France'], ['Amsterdam', 'Netherlands'], ['Utrecht', 'Netherlands'],
  ['Milan', 'Italy'], ['Rome', 'Italy'], ['Stockholm', 'Sweden'],
] as const

/**
 * `seed_int(stream, n, m)`: a value in [0, m) for row n, `seed_frac(stream, n)`: one in [0, 1). Streams keep
 * columns of the same row independent. hashint8extended is computed inside PGlite's WebAssembly build, so it
 * is the same on every machine.
 */
export const seedFunctionsSql = `
  SET TimeZone = 'UTC';
  CREATE FUNCTION seed_int(stream int, n bigint, m int) RETURNS int LANGUAGE sql IMMUTABLE
    AS $$ SELECT (((hashint8extended(n, stream) % m) + m) % m)::int $$;
  CREATE FUNCTION seed_frac(stream int, n bigint) RETURNS float8 LANGUAGE sql IMMUTABLE
    AS $$ SELECT seed_int(stream, n, 1000000) / 1000000.0::float8 $$;
`

export const dropSeedFunctionsSql = `DROP FUNCTION seed_frac(int, bigint); DROP FUNCTION seed_int(int, bigint, int);`

/** Brands and types as (id, name) rows, ids from 1. */
export const brandsSelect = `SELECT i AS id, (${literalArray(brands)})[i] AS brand FROM generate_series(1, ${shopSeedSize.brands}) i`
export const typesSelect = `SELECT i AS id, (${literalArray(types)})[i] AS type FROM generate_series(1, ${shopSeedSize.types}) i`

/** Catalog items with every column of catalog.catalog_items plus brand and type names. */
export const catalogItemsSelect = `
  SELECT n AS id,
         variant || ' ' || brand || ' ' || type AS name,
         CASE WHEN seed_int(32, n, 8) = 0 THEN NULL ELSE 'The ' || lower(variant) || ' ' || type || ' from the ' || brand || ' collection' END AS description,
         ((base_cents + seed_int(33, n, 2000)) / 100.0)::numeric(10,2) AS price,
         brand_id, type_id, brand, type,
         seed_int(34, n, 250) AS available_stock,
         10 + seed_int(35, n, 31) AS restock_threshold,
         timestamptz '2026-01-05 00:00:00+00' + seed_int(36, n, 100 * 1440) * interval '1 minute' AS created_at,
         timestamptz '${shopSeedDates.ordersFrom} 00:00:00+00' + seed_int(37, n, 183 * 1440) * interval '1 minute' AS updated_at
  FROM (
    SELECT n, b AS brand_id, t AS type_id,
           (${literalArray(brands)})[b] AS brand, (${literalArray(types)})[t] AS type,
           (${literalArray(typeBaseCents)})[t] AS base_cents,
           (${literalArray(variants)})[1 + seed_int(38, n, ${variants.length})] AS variant
    FROM (SELECT n, 1 + seed_int(30, n, ${shopSeedSize.brands}) AS b, 1 + seed_int(31, n, ${shopSeedSize.types}) AS t
          FROM generate_series(1, ${shopSeedSize.items}) n) picks
  ) items`

/** Identity users, n from 1; buyer n is user n. About one in forty has no city on file. */
export const usersSelect = `
  SELECT n,
         md5('coldpipe-demo-user-' || n)::uuid AS id,
         lower(replace(first_name, ' ', '') || '.' || replace(last_name, ' ', '') || n) || '@example.com' AS email,
         first_name || ' ' || last_name AS name,
         CASE WHEN seed_int(43, n, 3) = 0 THEN NULL ELSE '+1-555-' || lpad(seed_int(44, n, 10000)::text, 4, '0') END AS phone_number,
         (${literalArray(places.map((p) => p[1]))})[place] AS country,
         CASE WHEN seed_int(42, n, 40) = 0 THEN NULL ELSE (${literalArray(places.map((p) => p[0]))})[place] END AS city,
         seed_int(45, n, 10) <> 0 AS email_confirmed,
         timestamptz '2025-01-01 00:00:00+00' + seed_int(46, n, 480 * 1440) * interval '1 minute' AS created_at
  FROM (
    SELECT n, (${literalArray(firstNames)})[1 + seed_int(40, n, ${firstNames.length})] AS first_name,
           (${literalArray(lastNames)})[1 + seed_int(41, n, ${lastNames.length})] AS last_name,
           1 + seed_int(47, n, ${places.length}) AS place
    FROM generate_series(1, ${shopSeedSize.users}) n
  ) u`

/** Places as (place, city, country) rows, for orders shipped somewhere other than the buyer's home. */
export const placesSelect = `SELECT i AS place, (${literalArray(places.map((p) => p[0]))})[i] AS city, (${literalArray(places.map((p) => p[1]))})[i] AS country FROM generate_series(1, ${places.length}) i`
export const placeCount = places.length
