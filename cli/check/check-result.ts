/** One line of `coldpipe check`: what was checked, how it went, and what to do when it did not go well. */
export interface CheckResult {
  /** What the check is about: `config`, `source shop`, `shop.orders`, `brokers`, `lake`, `warehouse`. */
  subject: string
  /** The thing checked: `connect`, `exists`, `key`, `cursor`, `cursor index`, `select`, a config path, ... */
  check: string
  status: 'ok' | 'warn' | 'fail'
  message: string
  /** What to change, for warn and fail. */
  fix?: string
}

export const ok = (subject: string, check: string, message: string): CheckResult => ({ subject, check, status: 'ok', message })
export const warn = (subject: string, check: string, message: string, fix: string): CheckResult => ({ subject, check, status: 'warn', message, fix })
export const fail = (subject: string, check: string, message: string, fix: string): CheckResult => ({ subject, check, status: 'fail', message, fix })
