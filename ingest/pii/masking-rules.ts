import { resolve } from 'node:path'
import { ColdpipeError } from '../../core/errors.ts'
import type { MaskAction, PiiColumnRule, PiiConfig } from './pii-config.ts'
import { emptyPiiConfig, needsKey } from './pii-config.ts'
import { PiiKey } from './pii-key.ts'

/**
 * The masking a lake's landings apply: the action per `service.table.column` and the key. Built once per
 * process from the config (`landingPolicyFromConfig`) and looked up by the lake root at every landing.
 */
export class MaskingRules {
  private readonly byTable = new Map<string, Map<string, MaskAction>>()

  constructor(
    readonly columns: PiiColumnRule[],
    /** Present whenever a column is hashed or erasure subjects exist. */
    readonly key: PiiKey | undefined,
    readonly config: PiiConfig = { ...emptyPiiConfig, columns },
  ) {
    for (const rule of columns) {
      const dot = rule.column.lastIndexOf('.')
      const table = rule.column.slice(0, dot)
      let actions = this.byTable.get(table)
      if (!actions) this.byTable.set(table, (actions = new Map()))
      actions.set(rule.column.slice(dot + 1), rule.action)
    }
  }

  static none(): MaskingRules {
    return new MaskingRules([], undefined)
  }

  /**
   * Reads the key from the environment variable the config names. Without it the rules still load (a
   * command that lands nothing needs no key); a landing that hashes, or meets the erasure list, then fails
   * with PII_KEY_MISSING naming the variable, before anything is written.
   */
  static fromConfig(config: PiiConfig | undefined, env: NodeJS.ProcessEnv = process.env): MaskingRules {
    const pii = config ?? emptyPiiConfig
    return new MaskingRules(pii.columns, needsKey(pii) && env[pii.keyEnv] ? PiiKey.fromEnv(pii.keyEnv, env) : undefined, pii)
  }

  /** The key, or PII_KEY_MISSING naming the environment variable to set. */
  requireKey(what: string): PiiKey {
    if (this.key) return this.key
    throw new ColdpipeError('PII_KEY_MISSING', `${what} needs the masking key: set the environment variable ${this.config.keyEnv} (pii.keyEnv)`, { context: { field: 'pii.keyEnv', env: this.config.keyEnv } })
  }

  /** Column → action for one lake table (empty when nothing of it is masked). */
  forTable(service: string, table: string): Map<string, MaskAction> {
    return this.byTable.get(`${service}.${table}`) ?? new Map()
  }

  /** Tables with at least one masked column, as `service.table`. */
  get tables(): string[] {
    return [...this.byTable.keys()]
  }
}

const registered = new Map<string, MaskingRules>()

function normalize(lakeRoot: string): string {
  return resolve(lakeRoot)
}

/**
 * Makes `rules` the masking every landing into `lakeRoot` in this process applies. Landings look the rules
 * up by the lake rather than taking them as a parameter, so no landing path can be wired without them; a
 * lake whose recorded masking differs from what a process registered refuses that process's landings
 * (see mask-state.ts), which also catches a process that registered nothing.
 */
export function registerMasking(lakeRoot: string, rules: MaskingRules): void {
  registered.set(normalize(lakeRoot), rules)
}

export function unregisterMasking(lakeRoot: string): void {
  registered.delete(normalize(lakeRoot))
}

export function maskingFor(lakeRoot: string): MaskingRules {
  return registered.get(normalize(lakeRoot)) ?? MaskingRules.none()
}
