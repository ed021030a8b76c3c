import { randomUUID } from 'node:crypto'
import pg from 'pg'

export interface SourceFingerprint {
  accounts: number
  visits: number
  products: number
  stock: number
}

export interface SoakSourceOptions {
  url: string
  accountRows: number
  productRows: number
}

/**
 * The exported service database: a schema of its own in the real Postgres with an incremental table
 * (`accounts`, cursor `updated_at`, stamped with simulated time so the cursor follows the simulated clock)
 * and a full-mode table (`products`). Rows change between exports as a service's would.
 */
export class SoakSource {
  private nextAccountId: number

  private constructor(
    private readonly client: pg.Client,
    readonly schema: string,
    private readonly options: SoakSourceOptions,
  ) {
    this.nextAccountId = options.accountRows + 1
  }

  static async create(options: SoakSourceOptions, start: Date): Promise<SoakSource> {
    const schema = `soak_${randomUUID().replace(/-/g, '').slice(0, 10)}`
    const client = new pg.Client(options.url)
    await client.connect()
    const source = new SoakSource(client, schema, options)
    await client.query(`
      CREATE SCHEMA ${schema};
      CREATE TABLE ${schema}.accounts (
        id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL, tier text NOT NULL,
        balance numeric(12,2) NOT NULL, visits integer NOT NULL, updated_at timestamptz NOT NULL);
      CREATE TABLE ${schema}.products (
        id integer PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL, stock integer NOT NULL,
        updated_at timestamptz NOT NULL);
      CREATE INDEX ON ${schema}.accounts (updated_at);`)
    await client.query(
      `INSERT INTO ${schema}.accounts
       SELECT i, 'account ' || i, 'user' || i || '@example.com', (ARRAY['free','plus','pro'])[1 + i % 3],
              (i % 9973) / 7.0, 0, $1::timestamptz
       FROM generate_series(1, $2::int) i`,
      [start.toISOString(), options.accountRows],
    )
    await client.query(
      `INSERT INTO ${schema}.products
       SELECT i, 'product ' || i, 1 + (i % 500) / 3.0, 100 + i % 50, $1::timestamptz FROM generate_series(1, $2::int) i`,
      [start.toISOString(), options.productRows],
    )
    return source
  }

  /** One simulated hour of service activity at `at`: updated and new accounts, stock movements. */
  async hour(at: Date, updates: number, inserts: number): Promise<void> {
    const stamp = at.toISOString()
    await this.client.query(
      `UPDATE ${this.schema}.accounts SET visits = visits + 1, balance = balance + 1.25, updated_at = $1
       WHERE id IN (SELECT 1 + floor(random() * $2)::bigint FROM generate_series(1, $3::int))`,
      [stamp, this.nextAccountId - 1, updates],
    )
    const first = this.nextAccountId
    this.nextAccountId += inserts
    await this.client.query(
      `INSERT INTO ${this.schema}.accounts
       SELECT i, 'account ' || i, 'user' || i || '@example.com', 'free', 0, 0, $1 FROM generate_series($2::bigint, $3::bigint) i`,
      [stamp, first, this.nextAccountId - 1],
    )
    await this.client.query(
      `UPDATE ${this.schema}.products SET stock = greatest(0, stock - 1 + floor(random() * 3)::int), updated_at = $1
       WHERE id IN (SELECT 1 + floor(random() * $2)::int FROM generate_series(1, $3::int))`,
      [stamp, this.options.productRows, updates],
    )
  }

  /** A handful of accounts change: the "one table changed" publish the soak measures. */
  async smallChange(at: Date): Promise<void> {
    await this.client.query(
      `UPDATE ${this.schema}.accounts SET visits = visits + 1, updated_at = $1
       WHERE id IN (SELECT 1 + floor(random() * $2)::bigint FROM generate_series(1, 5))`,
      [at.toISOString(), this.nextAccountId - 1],
    )
  }

  /** What the warehouse's current state of both tables must match after the last export and publish. */
  async fingerprint(): Promise<SourceFingerprint> {
    const { rows } = await this.client.query<SourceFingerprint>(
      `SELECT (SELECT count(*) FROM ${this.schema}.accounts)::int AS accounts,
              (SELECT sum(visits) FROM ${this.schema}.accounts)::int AS visits,
              (SELECT count(*) FROM ${this.schema}.products)::int AS products,
              (SELECT sum(stock) FROM ${this.schema}.products)::int AS stock`,
    )
    return rows[0]!
  }

  async close(drop: boolean): Promise<void> {
    if (drop) await this.client.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`)
    await this.client.end()
  }
}
