import { createHash, createHmac } from 'node:crypto'
import type { Database } from '../../core/duckdb/index.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { piiKeyMinLength } from './pii-config.ts'

const blockBytes = 64

/**
 * The masking key: HMAC-SHA256 in JavaScript, and the same HMAC as a DuckDB expression
 * (H((K⊕opad) ‖ H((K⊕ipad) ‖ m)), RFC 2104) whose padded keys live in per-connection DuckDB variables, so
 * no SQL text, log line or error context ever carries key material.
 */
export class PiiKey {
  readonly id: string
  private readonly inner: Buffer
  private readonly outer: Buffer

  private constructor(private readonly bytes: Buffer) {
    // Names the key in the lake (fingerprints, receipts) without revealing it.
    this.id = createHmac('sha256', bytes).update('coldpipe-key-id').digest('hex').slice(0, 16)
    const block = Buffer.alloc(blockBytes)
    ;// Keys longer than a block are hashed first (RFC 2104).
    ;(bytes.length > blockBytes ? createHash('sha256').update(bytes).digest() : bytes).copy(block)
    this.inner = Buffer.from(block.map((b) => b ^ 0x36))
    this.outer = Buffer.from(block.map((b) => b ^ 0x5c))
  }

  static fromText(text: string): PiiKey {
    if (text.length < piiKeyMinLength) {
      throw new ColdpipeError('PII_KEY_MISSING', `the masking key has ${text.length} characters; ${piiKeyMinLength}+ are needed`, { context: { minLength: piiKeyMinLength } })
    }
    return new PiiKey(Buffer.from(text, 'utf8'))
  }

  static fromEnv(name: string, env: NodeJS.ProcessEnv = process.env): PiiKey {
    const text = env[name]
    if (!text) throw new ColdpipeError('PII_KEY_MISSING', `environment variable ${name} (pii.keyEnv) is not set; it holds the masking key`, { context: { field: 'pii.keyEnv', env: name } })
    try {
      return PiiKey.fromText(text)
    } catch (error) {
      throw new ColdpipeError('PII_KEY_MISSING', `environment variable ${name} (pii.keyEnv): ${(error as Error).message}`, { context: { field: 'pii.keyEnv', env: name } })
    }
  }

  /** HMAC-SHA256 of the UTF-8 text, lower-case hex. */
  hmacHex(text: string): string {
    return createHmac('sha256', this.bytes).update(text, 'utf8').digest('hex')
  }

  /**
   * The padded keys (K⊕ipad, K⊕opad) as hex, for an HMAC a source database computes itself
   * (SourceConnector.hmacExpr): they go into that query's text, so the value never leaves the source as
   * plaintext. Whoever sees them can compute the same HMACs: treat them as the key.
   */
  pads(): { innerHex: string; outerHex: string } {
    return { innerHex: this.inner.toString('hex'), outerHex: this.outer.toString('hex') }
  }

  private get variables(): { inner: string; outer: string } {
    return { inner: `cp_pii_i_${this.id}`, outer: `cp_pii_o_${this.id}` }
  }

  /**
   * Sets this key's variables on one DuckDB connection (variables are per connection). The values are bound
   * parameters, so even a failing statement's error names no key bytes.
   */
  async loadInto(db: Database): Promise<void> {
    const { inner, outer } = this.variables
    await db.run(`SET VARIABLE ${inner} = unhex($1)`, [this.inner.toString('hex')])
    await db.run(`SET VARIABLE ${outer} = unhex($1)`, [this.outer.toString('hex')])
  }

  /**
   * HMAC-SHA256 hex of `textExpr` (a VARCHAR expression) in DuckDB; NULL stays NULL. A connection whose
   * variables were not loaded fails the statement rather than writing NULLs.
   */
  sql(textExpr: string): string {
    const { inner, outer } = this.variables
    // Variable names are `cp_pii_[io]_<hex>`: nothing to escape (and the config loader need not load DuckDB).
    const i = `getvariable('${inner}')`
    const o = `getvariable('${outer}')`
    return (
      `(CASE WHEN ${i} IS NULL OR ${o} IS NULL THEN error('masking key not loaded on this connection') ` +
      `WHEN (${textExpr}) IS NULL THEN NULL ELSE sha256(${o} || unhex(sha256(${i} || encode(${textExpr})))) END)`
    )
  }
}
