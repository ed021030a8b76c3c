// Talking to the API: the key from the header field, coded errors, cancellation, downloads that carry the key.
const keyField = () => document.getElementById('api-key')

export function apiKey() {
  return keyField().value.trim()
}

export function keyHeaders() {
  const key = apiKey()
  return key ? { 'x-api-key': key } : {}
}

/** An error answer of the API: `{ error: { code, message, details? } }`, with the HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message)
    this.status = status
    this.code = code
    this.details = details ?? {}
  }
}

async function parse(res) {
  const body = await res.json().catch(() => null)
  if (!res.ok) {
    const error = body?.error
    throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? `the server answered HTTP ${res.status}`, error?.details)
  }
  return body
}

export async function getJson(url, { signal } = {}) {
  return parse(await fetch(url, { headers: { accept: 'application/json', ...keyHeaders() }, signal }))
}

export async function postJson(url, body, { signal } = {}) {
  return parse(await fetch(url, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json', ...keyHeaders() }, body: JSON.stringify(body), signal }))
}

/** Saves a response body as a file; the browser's own download is used when no key has to be sent. */
export async function download(url, filename, init = {}) {
  const res = await fetch(url, { ...init, headers: { ...(init.headers ?? {}), ...keyHeaders() } })
  if (!res.ok) await parse(res)
  let blob
  try {
    blob = await res.blob()
  } catch {
    // The API cuts a streamed response that fails midway (no final chunk): nothing partial is saved.
    throw new Error('the server stopped before the end of the file; nothing was saved')
  }
  const blobUrl = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = blobUrl
  a.download = filename
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(blobUrl), 10_000)
}

export function describeError(error) {
  if (error?.name === 'AbortError') return 'Cancelled.'
  if (error instanceof ApiError) return `${error.code}: ${error.message}`
  return String(error?.message ?? error)
}
