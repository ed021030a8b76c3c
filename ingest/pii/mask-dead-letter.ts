import type { DeadLetter } from '../../lake/index.ts'
import { canonicalText } from './canonical-text.ts'
import type { MaskAction } from './pii-config.ts'
import type { PiiKey } from './pii-key.ts'

const placeholder = '<masked>'

interface Walk {
  /** Plaintext of every masked value met, to scrub from the reason. */
  secrets: Set<string>
  erased: boolean
}

/**
 * Masks every member named like a masked column, at any depth (a Debezium envelope's before and after
 * images, a schema-wrapped payload, an integration event's payload), and notes whether any member names
 * an erased value. Over-masking a same-named field elsewhere in the payload is the safe side.
 */
function walk(value: unknown, actions: Map<string, MaskAction>, key: PiiKey | undefined, erased: Map<string, Set<string>>, seen: Walk): unknown {
  if (Array.isArray(value)) return value.map((v) => walk(v, actions, key, erased, seen))
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [name, member] of Object.entries(value as Record<string, unknown>)) {
    const text = member !== null && typeof member !== 'object' ? canonicalText(member) : null
    const hashes = erased.get(name)
    if (hashes && text !== null && key) {
      // A hashed column may already hold the HMAC (a replayed, already-masked payload).
      if (hashes.has(key.hmacHex(text)) || hashes.has(text)) seen.erased = true
    }
    const action = actions.get(name)
    if (!action) {
      out[name] = walk(member, actions, key, erased, seen)
      continue
    }
    if (text !== null && text !== '') seen.secrets.add(text)
    if (member !== null && typeof member === 'object') seen.secrets.add(JSON.stringify(member))
    if (action === 'drop') continue
    if (action === 'null' || member === null) out[name] = null
    else out[name] = key ? key.hmacHex(text ?? JSON.stringify(member)) : null
  }
  return out
}

function scrub(text: string, secrets: Set<string>): string {
  let out = text
  // Longest first, so a value containing another is replaced whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join(placeholder)
  return out
}

/**
 * A dead letter as it may be written when its table has masked columns or erased subjects: payload and
 * Kafka key masked like the landed rows, plaintext of masked values scrubbed from the reason. A payload that
 * is not JSON cannot be searched for masked values, so it is withheld (kept as its HMAC and length; replay it
 * from Kafka by its offset), and its reason reduced to the error's kind. Undefined: the letter belongs to an
 * erased subject and is not written at all.
 */
export function maskDeadLetter(letter: DeadLetter, actions: Map<string, MaskAction>, key: PiiKey | undefined, erased: Map<string, Set<string>>): DeadLetter | undefined {
  const seen: Walk = { secrets: new Set(), erased: false }
  let payload = letter.payload
  let withheld: DeadLetter['withheld']
  let reason = letter.reason
  if (payload !== null) {
    let parsed: unknown
    let ok = letter.payloadEncoding === 'utf8'
    if (ok) {
      try {
        parsed = JSON.parse(payload)
      } catch {
        ok = false
      }
    }
    if (ok && parsed !== null && typeof parsed === 'object') {
      const envelope = parsed as Record<string, unknown>
      // A Connect `schema` describes types, never values, and names fields `name`: kept as is, so the
      // letter still replays.
      payload = JSON.stringify(
        !Array.isArray(parsed) && 'schema' in envelope && 'payload' in envelope
          ? { ...envelope, payload: walk(envelope.payload, actions, key, erased, seen) }
          : walk(parsed, actions, key, erased, seen),
      )
    } else if (actions.size > 0) {
      const bytes = Buffer.from(payload, letter.payloadEncoding === 'base64' ? 'base64' : 'utf8')
      withheld = { bytes: bytes.length, ...(key ? { hmac: key.hmacHex(bytes.toString('latin1')) } : {}) }
      payload = null
      // Parser messages quote the input they choke on; only the kind of failure is kept.
      reason = `${letter.reason.split(/[:,(]/)[0]!.trim()} (payload withheld: ${letter.source.topic ?? 'the table'} has masked columns)`
    }
  }
  const source = { ...letter.source }
  if (typeof source.key === 'string' && actions.size > 0) {
    let parsedKey: unknown
    try {
      parsedKey = JSON.parse(source.key)
    } catch {
      parsedKey = undefined
    }
    if (parsedKey !== null && typeof parsedKey === 'object') source.key = JSON.stringify(walk(parsedKey, actions, key, erased, seen))
    else {
      seen.secrets.add(source.key)
      source.key = key ? key.hmacHex(source.key) : null
    }
  }
  if (seen.erased) return undefined
  return {
    ...letter,
    reason: scrub(reason, seen.secrets),
    source,
    payload,
    ...(withheld ? { withheld } : {}),
    ...(actions.size > 0 ? { masked: [...new Set([...(letter.masked ?? []), ...actions.keys()])].sort() } : {}),
  }
}
