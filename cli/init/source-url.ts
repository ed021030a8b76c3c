/** A source name from the URL's database (`shop_db` from …/shop-db), valid as a config key. */
export function sourceNameFromUrl(url: string): string {
  let database = ''
  try {
    database = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''))
  } catch {
    database = ''
  }
  const name = database.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^[^a-z]+/, '').replace(/_+$/, '')
  return name || 'main'
}

/**
 * The URL with its password replaced by `${<NAME>_PASSWORD}` (read from the environment at load), so the
 * written file holds no secret; `variable` is set when that happened.
 */
export function urlWithoutPassword(url: string, sourceName: string): { url: string; variable?: string } {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return { url }
  }
  if (!parsed.password) return { url }
  const variable = `${sourceName.toUpperCase()}_PASSWORD`
  // URL would percent-encode `${…}`; the placeholder is put in by text.
  parsed.password = 'PASSWORD_PLACEHOLDER'
  return { url: parsed.toString().replace('PASSWORD_PLACEHOLDER', `\${${variable}}`), variable }
}
