import { randomUUID } from 'node:crypto'

/**
 * JSON.parse reads every number as a double, so 9007199254740993 (an int64 id, a MicroTimestamp before 1685,
 * a decimal written as a number) comes out as another number. Numbers with more than 15 significant digits
 * (the most a double always holds exactly) are kept here as their exact text instead.
 */
export class ExactNumber {
  constructor(readonly text: string) {}

  /** Nested in a value kept whole (a JSON column without schema), it is written as a number, as before. */
  toJSON(): number {
    return Number(this.text)
  }

  /** Exact where it is used as text (a source LSN, a transaction id). */
  toString(): string {
    return this.text
  }
}

// Numbers become strings starting with this before JSON.parse; a per-process nonce, so no real string is taken for one.
const marker = `\u0000${randomUUID()}:`
const markerJson = JSON.stringify(marker).slice(0, -1)
// A run of 16 digits (a dot may sit among them) is where a number could lose digits; most payloads have none.
const longDigits = /[\d.]{16,}/
const numberToken = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y

function significantDigits(token: string): number {
  const mantissa = token.replace(/^-/, '').replace(/[eE].*$/, '').replace('.', '')
  return mantissa.replace(/^0+/, '').length
}

/** JSON.parse, except that numbers a double cannot hold exactly come out as ExactNumber. */
export function parseJsonExact(text: string): unknown {
  if (!longDigits.test(text)) return JSON.parse(text)
  let out = ''
  let from = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
      continue
    }
    if (c === 0x22) {
      inString = true
      continue
    }
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) continue
    numberToken.lastIndex = i
    const token = numberToken.exec(text)?.[0]
    if (!token) continue
    if (significantDigits(token) > 15) {
      out += `${text.slice(from, i)}${markerJson}${token}"`
      from = i + token.length
    }
    i += token.length - 1
  }
  if (from === 0) return JSON.parse(text)
  return JSON.parse(out + text.slice(from), (_key, value: unknown) => (typeof value === 'string' && value.startsWith(marker) ? new ExactNumber(value.slice(marker.length)) : value))
}

/** The exact decimal text of a JSON number as parsed by parseJsonExact, or undefined for anything else. */
export function numberText(value: unknown): string | undefined {
  if (value instanceof ExactNumber) return value.text
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}
