import { quoteIdent, quoteLiteral, type Database } from '../../core/duckdb/index.ts'
import { ColdpipeError } from '../../core/errors.ts'
import type { CommitLog, DeadLetter } from '../../lake/index.ts'
import { activeMatches, readErasureList } from '../../lake/erasure/index.ts'
import type { SourceColumn, SourceConnector, SourceTable } from '../export/source-connector.ts'
import { maskDeadLetter } from './mask-dead-letter.ts'
import { checkTableMasking } from './mask-state.ts'
import { maskingFor } from './masking-rules.ts'
import type { MaskAction } from './pii-config.ts'
import type { PiiKey } from './pii-key.ts'

/**
 * Lake types of export columns the source can hash: their source text is what DuckDB's CAST(v AS VARCHAR)
 * gives (digits, true/false, lower-case UUIDs; a VARCHAR column holds the source's text as it is).
 * Decimals, floats, dates and times, JSON, BLOBs and lists render differently (`10.5` vs `10.50`, time zones).
 */
const sourceHashable = /^(U?(TINYINT|SMALLINT|INTEGER|BIGINT)|VARCHAR|UUID|BOOLEAN)$/

/** A column as the landing writes it: name and DuckDB type. */
export interface LandedColumn {
  name: string
  type: string
}

/** A column of rows staged as NDJSON: its type, and how read_json reads it (transform's ColumnSpec). */
export interface StagedColumn extends LandedColumn {
  wireType?: string | undefined
  wireExpr?: string | undefined
}

/**
 * What one landing of one lake table applies before anything reaches the lake: the configured masking
 * (checked against what the table's files already hold) and the erasure list. Opened per landing, so an
 * erasure recorded a moment ago applies to the next batch or export chunk.
 */
export class TableLanding {
  constructor(
    readonly service: string,
    readonly table: string,
    readonly actions: Map<string, MaskAction>,
    private readonly key: PiiKey | undefined,
    /** Column name → HMACs whose rows are kept out. */
    private readonly erased: Map<string, Set<string>>,
  ) {}

  /** Rows of this table are on the erasure list. */
  get erasing(): boolean {
    return this.erased.size > 0
  }

  /** Columns of this table are masked. */
  get masking(): boolean {
    return this.actions.size > 0
  }

  /** Anything to do for this table (masking or erasure). */
  get active(): boolean {
    return this.actions.size > 0 || this.erased.size > 0
  }

  private requireKey(): PiiKey {
    if (!this.key) {
      throw new ColdpipeError('PII_KEY_MISSING', `${this.service}.${this.table} hashes columns and this process has no masking key: set the environment variable pii.keyEnv names (default COLDPIPE_PII_KEY)`, {
        context: { table: `${this.service}.${this.table}`, field: 'pii.keyEnv' },
      })
    }
    return this.key
  }

  /**
   * An export's source table with the masking folded in, so no masked value leaves the source database: a
   * dropped column is not read at all, a nulled one is read as NULL, a hashed one is read as its HMAC,
   * computed by the source (`connector.hmacExpr`). Only types whose text the source renders exactly as
   * DuckDB's `CAST(v AS VARCHAR)` does can be hashed there (the HMAC must equal the change path's and the
   * erasure list's): any other is refused with PII_TYPE_UNSUPPORTED, before anything is read.
   */
  maskSource(source: SourceTable, connector: Pick<SourceConnector, 'hmacExpr'>): SourceTable {
    if (this.actions.size === 0) return source
    const columns = source.columns.flatMap((c) => {
      const action = this.actions.get(c.name)
      if (!action) return [c]
      if (action === 'drop') return []
      if (action === 'null') return [{ ...c, selectExpr: 'NULL', convertExpr: `CAST(NULL AS ${c.duckType})` }]
      if (!sourceHashable.test(c.duckType)) {
        const column = `${this.service}.${this.table}.${c.name}`
        throw new ColdpipeError('PII_TYPE_UNSUPPORTED', `${column} is hashed, and its type ${c.sourceType} (${c.duckType} in the lake) renders differently in the source and in DuckDB, so its HMAC would not match the change path's or the erasure list's: hash a text, integer, boolean or UUID column, or use drop or null (docs/personal-data.md)`, {
          context: { column, sourceType: c.sourceType, duckType: c.duckType },
        })
      }
      const hashed: SourceColumn = { ...c, duckType: 'VARCHAR', csvType: 'VARCHAR', convertExpr: '$col', selectExpr: connector.hmacExpr(c.selectExpr, this.requireKey().pads()) }
      return [hashed]
    })
    return { ...source, columns }
  }

  /** The columns as they land once masked (dropped ones gone, hashed ones VARCHAR). */
  maskColumns<C extends LandedColumn>(columns: C[]): C[] {
    return columns.flatMap((c) => {
      const action = this.actions.get(c.name)
      if (action === 'drop') return []
      if (action === 'hash') return [{ ...c, type: 'VARCHAR' }]
      return [c]
    })
  }

  /** Masked columns that are not columns of the rows but top-level fields of an integration event's `payload` JSON. */
  private payloadFields(columns: LandedColumn[]): [string, MaskAction][] {
    const names = new Set(columns.map((c) => c.name))
    if (!names.has('payload')) return []
    return [...this.actions].filter(([name]) => !names.has(name))
  }

  /** Wraps a SELECT that yields `columns` so that masked columns (and masked fields of a `payload` JSON) land masked. */
  maskSelect(select: string, columns: LandedColumn[], options: { kafkaKey?: boolean } = {}): string {
    if (this.actions.size === 0) return select
    const fields = this.payloadFields(columns)
    const list = columns.flatMap((c) => {
      const ref = quoteIdent(c.name)
      if (c.name === 'payload' && fields.length > 0) return [`${this.maskPayload(ref, fields)} AS ${ref}`]
      if (c.name === '_cp_key' && options.kafkaKey !== false) return [`${this.maskKafkaKey(ref)} AS ${ref}`]
      const action = this.actions.get(c.name)
      if (!action) return [ref]
      if (action === 'drop') return []
      if (action === 'null') return [`CAST(NULL AS ${c.type}) AS ${ref}`]
      return [`${this.requireKey().sql(`CAST(${ref} AS VARCHAR)`)} AS ${ref}`]
    })
    return `SELECT ${list.join(', ')} FROM (${select})`
  }

  /**
   * Masks typed rows in memory, before they are staged in a scratch file, so no plaintext of a masked column
   * reaches disk: dropped columns are removed, nulled ones set to null, and hashed columns, masked `payload`
   * fields and the Kafka key (`_cp_key`) replaced by what `maskSelect` would have made of them. Those values
   * are computed by DuckDB (the same SQL, the same typing of the wire value as read_json's, so the same
   * HMAC), from the values handed over as a bound parameter, in memory. Returns new rows and the columns to
   * stage and read them under; the rows then need no `maskSelect`.
   */
  async maskRows<C extends StagedColumn>(db: Database, rows: Record<string, unknown>[], columns: C[]): Promise<{ rows: Record<string, unknown>[]; columns: C[] }> {
    if (this.actions.size === 0) return { rows, columns }
    const out = rows.map((row) => ({ ...row }))
    const staged: C[] = []
    const fields = this.payloadFields(columns)
    for (const c of columns) {
      const action = this.actions.get(c.name)
      let expr: string | undefined
      let as: C = c
      if (c.name === 'payload' && fields.length > 0) {
        expr = `CAST(${this.maskPayload('v', fields)} AS VARCHAR)`
        as = { ...c, type: c.type, wireType: 'VARCHAR', wireExpr: 'CAST($ AS JSON)' }
      } else if (c.name === '_cp_key') {
        expr = this.maskKafkaKey('v')
        as = { ...c, type: 'VARCHAR', wireType: undefined, wireExpr: undefined }
      } else if (action === 'drop') {
        for (const row of out) delete row[c.name]
        continue
      } else if (action === 'null') {
        for (const row of out) row[c.name] = null
      } else if (action === 'hash') {
        expr = this.requireKey().sql(`CAST(${c.wireExpr ? c.wireExpr.replace('$', 'v') : 'v'} AS VARCHAR)`)
        as = { ...c, type: 'VARCHAR', wireType: undefined, wireExpr: undefined }
      }
      if (expr !== undefined && out.length > 0) {
        const structure = quoteLiteral(JSON.stringify([c.wireType ?? c.type]))
        const masked = await db.all<{ m: string | null }>(
          `SELECT CAST(${expr} AS VARCHAR) AS m FROM (SELECT unnest(l) AS v, generate_subscripts(l, 1) AS i FROM (SELECT from_json_strict($1, ${structure}) AS l)) ORDER BY i`,
          [JSON.stringify(out.map((row) => row[c.name] ?? null))],
        )
        if (masked.length !== out.length) {
          throw new ColdpipeError('INTERNAL', `masking ${this.service}.${this.table}.${c.name} gave ${masked.length} values for ${out.length} rows`, { context: { table: `${this.service}.${this.table}`, column: c.name } })
        }
        out.forEach((row, i) => (row[c.name] = masked[i]!.m))
      }
      staged.push(as)
    }
    return { rows: out, columns: staged }
  }

  /**
   * Fields of a JSON value, at the top level and under `under` (a schema-wrapped Kafka key keeps its fields
   * under `payload`): hashed as their text, or removed (drop and null alike: a JSON merge patch's null
   * member removes the key). One merge patch per level with every field: a field the value lacks gets a
   * null member, which removes nothing; a value with none of the fields is left as it is, byte for byte
   * (a Kafka key's text is what merges group by). One patch per field, each wrapping the previous
   * expression three times, made the SQL grow as 3^fields.
   */
  private maskJson(ref: string, fields: [string, MaskAction][], under: string[][] = [[]]): string {
    let expr = ref
    for (const prefix of under) {
      const paths = fields.map(([name]) => quoteLiteral(`$${[...prefix, name].map((p) => `.${JSON.stringify(p)}`).join('')}`))
      const members = fields.map(([name, action], i) => `${quoteLiteral(name)}, ${action === 'hash' ? this.requireKey().sql(`(${expr} ->> ${paths[i]})`) : 'NULL'}`)
      let patch = `json_object(${members.join(', ')})`
      for (const outer of [...prefix].reverse()) patch = `json_object(${quoteLiteral(outer)}, ${patch})`
      const any = paths.map((path) => `json_exists(${expr}, ${path})`).join(' OR ')
      expr = `(CASE WHEN ${any} THEN json_merge_patch(${expr}, ${patch}) ELSE ${expr} END)`
    }
    return expr
  }

  private maskPayload(ref: string, fields: [string, MaskAction][]): string {
    return `CAST(${this.maskJson(ref, fields)} AS JSON)`
  }

  /**
   * The Kafka key of a change row (`_cp_key`) carries the row's primary key, which may be a masked column:
   * a JSON key has its masked fields masked, any other key is replaced by its HMAC (still equal for equal keys).
   */
  private maskKafkaKey(ref: string): string {
    const fields = [...this.actions]
    const json = `CAST(${ref} AS JSON)`
    return (
      `(CASE WHEN ${ref} IS NULL THEN NULL WHEN json_valid(${ref}) AND json_type(${json}) = 'OBJECT' ` +
      `THEN CAST(${this.maskJson(json, fields, [[], ['payload']])} AS VARCHAR) ELSE ${this.key ? this.key.sql(ref) : 'NULL'} END)`
    )
  }

  /** The SQL condition true for a (masked) row of an erased subject, or undefined when nothing of `columns` can match. */
  erasedCondition(columns: LandedColumn[]): string | undefined {
    if (this.erased.size === 0) return undefined
    const names = new Set(columns.map((c) => c.name))
    const parts: string[] = []
    for (const [name, hashes] of this.erased) {
      if (hashes.size === 0) continue
      let text: string
      if (names.has(name)) text = `CAST(${quoteIdent(name)} AS VARCHAR)`
      else if (names.has('payload')) text = `(${quoteIdent('payload')} ->> ${quoteLiteral(`$.${JSON.stringify(name)}`)})`
      else continue
      // A hashed column already holds the HMAC the list keeps; any other is hashed to compare.
      const value = this.actions.get(name) === 'hash' ? text : this.requireKey().sql(text)
      parts.push(`coalesce(${value} IN (${[...hashes].map(quoteLiteral).join(', ')}), false)`)
    }
    return parts.length > 0 ? `(${parts.join(' OR ')})` : undefined
  }

  private keepCondition(columns: LandedColumn[]): string | undefined {
    const erased = this.erasedCondition(columns)
    return erased ? `NOT ${erased}` : undefined
  }

  /** Wraps a SELECT of masked rows so rows of erased subjects are left out. */
  keepSelect(select: string, columns: LandedColumn[]): string {
    const keep = this.keepCondition(columns)
    return keep ? `SELECT * FROM (${select}) WHERE ${keep}` : select
  }

  /** How many rows of a SELECT of masked rows the erasure list keeps out (undefined when none can be). */
  erasedCountSql(select: string, columns: LandedColumn[]): string | undefined {
    const erased = this.erasedCondition(columns)
    return erased ? `SELECT count(*)::BIGINT AS n FROM (${select}) WHERE ${erased}` : undefined
  }

  /** Rows of a SELECT of masked rows that the erasure list keeps out (0 when nothing of this table is erased). */
  async erasedRows(db: Database, select: string, columns: LandedColumn[]): Promise<number> {
    const sql = this.erasedCountSql(select, columns)
    if (!sql) return 0
    const [row] = await db.all<{ n: bigint | number }>(sql)
    return Number(row?.n ?? 0)
  }

  /** A dead letter masked as its rows would be, or undefined when it belongs to an erased subject. */
  maskLetter(letter: DeadLetter): DeadLetter | undefined {
    if (!this.active) return letter
    return maskDeadLetter(letter, this.actions, this.key, this.erased)
  }

  /** Loads the key's variables into the connections that will run the masking SQL. */
  async prepare(dbs: Database[]): Promise<void> {
    if (!this.key || !this.active) return
    for (const db of dbs) await this.key.loadInto(db)
  }
}

/**
 * Opens the landing of `service.table` into the log's lake: refuses it when the configured masking differs
 * from the table's files (PII_MASKING_CHANGED), reads the erasure list (failing closed if unreadable), and
 * loads the key into `dbs`.
 */
export async function openTableLanding(log: CommitLog, dbs: Database[], service: string, table: string): Promise<TableLanding> {
  const rules = maskingFor(log.layout.root)
  await checkTableMasking(log, rules, service, table)
  const erased = new Map<string, Set<string>>()
  const prefix = `${service}.${table}.`
  const list = await readErasureList(log.layout)
  for (const [column, hashes] of activeMatches(list)) {
    if (column.startsWith(prefix)) erased.set(column.slice(prefix.length), hashes)
  }
  // Hashes made under another key would silently match nothing: the rows would come back.
  const stale = list.entries.find((e) => e.status !== 'cleared' && e.keyId !== rules.key?.id && Object.keys(e.matches).some((c) => c.startsWith(prefix)))
  if (stale) {
    throw new ColdpipeError('PII_MASKING_CHANGED', `erasure ${stale.id} keeps rows of ${service}.${table} out by hashes under key ${stale.keyId}, not this process's key ${rules.key?.id ?? '(none)'}; landing refused (put the key back, or see docs/personal-data.md on rotating keys)`, {
      context: { table: `${service}.${table}`, erasure: stale.id },
    })
  }
  if (erased.size > 0 && !rules.key) {
    throw new ColdpipeError('PII_KEY_MISSING', `${service}.${table} has rows on the erasure list, and this process has no masking key to recognise them (set pii.keyEnv)`, {
      context: { table: `${service}.${table}` },
    })
  }
  const landing = new TableLanding(service, table, rules.forTable(service, table), rules.key, erased)
  await landing.prepare(dbs)
  return landing
}
