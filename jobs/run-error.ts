import { isColdpipeError, messageOf } from '../core/errors.ts'
import type { RunRecord } from './job-types.ts'

/** Context made JSON-safe for the run record (bigints as strings); dropped if it cannot be written. */
function plain(context: Record<string, unknown>): Record<string, unknown> | undefined {
  if (Object.keys(context).length === 0) return undefined
  try {
    return JSON.parse(JSON.stringify(context, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))) as Record<string, unknown>
  } catch {
    return undefined
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** What a run record keeps of whatever ended a run: a coded error as is, a foreign error by its code and message, anything else thrown by its value. */
export function errorSummary(error: unknown): NonNullable<RunRecord['error']> {
  if (isColdpipeError(error)) {
    const context = plain(error.context)
    return { code: error.code, message: error.message, ...(context ? { context } : {}) }
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return { code: typeof code === 'string' ? code : 'JOB_FAILED', message: messageOf(error) }
  }
  return { code: 'JOB_FAILED', message: `the job threw a value that is not an Error: ${describe(error)}` }
}
