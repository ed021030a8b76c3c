// Freshness in view: per source "as of" in the viewer's local time with its lag, marked when older than the
// report allows (maxStalenessSeconds); the snapshot's id and publish time.
import { el } from './dom.js'

export function formatLag(seconds) {
  if (seconds < 90) return `${Math.round(seconds)} s`
  const minutes = Math.round(seconds / 60)
  if (minutes < 90) return `${minutes} min`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return `${hours} h ${minutes % 60} min`
  return `${Math.round(hours / 24)} days`
}

export function localTime(iso) {
  const time = Date.parse(iso)
  return Number.isNaN(time) ? String(iso) : new Date(time).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

export function snapshotText(snapshot) {
  if (!snapshot) return ''
  const ago = formatLag(Math.max(0, (Date.now() - Date.parse(snapshot.publishedAt)) / 1000))
  return `snapshot ${snapshot.id} · published ${localTime(snapshot.publishedAt)} (${ago} ago)`
}

/**
 * `sources`: [{ source, asOf, lagSeconds, staleReason? }] as the API returns them. `onAcceptStale`, when given,
 * adds the button that asks again with acceptStale=true (the API refused the stale data).
 */
export function renderFreshness(container, { sources, maxStalenessSeconds, snapshot, refused = false, onAcceptStale }) {
  const parts = []
  const limit = typeof maxStalenessSeconds === 'number' ? maxStalenessSeconds : undefined
  const stale = sources.filter((s) => limit !== undefined && s.lagSeconds > limit)
  if (stale.length > 0) {
    const warning = el('div', { class: 'stale-warning', role: refused ? 'alert' : undefined })
    warning.append(
      el(
        'p',
        {},
        `${refused ? 'Not shown: ' : 'Stale data: '}${stale.map((s) => s.source).join(', ')} ${stale.length > 1 ? 'are' : 'is'} older than this report allows (${formatLag(limit)}).`,
      ),
    )
    if (onAcceptStale) {
      const button = el('button', { type: 'button', id: 'accept-stale' }, 'Show the stale data anyway')
      button.addEventListener('click', onAcceptStale)
      warning.append(button)
    }
    parts.push(warning)
  }
  if (sources.length > 0) {
    // One line for the oldest source; the list per source is open on wide screens and whenever one is stale.
    const oldest = sources.reduce((a, b) => (b.lagSeconds > a.lagSeconds ? b : a))
    const details = el('details', { class: 'sources-box', open: stale.length > 0 || matchMedia('(min-width: 761px)').matches })
    details.append(el('summary', {}, `Data as of ${localTime(oldest.asOf)} (${formatLag(oldest.lagSeconds)} behind) · ${sources.length} source${sources.length > 1 ? 's' : ''}`))
    const list = el('ul', { class: 'sources', 'aria-label': 'Data freshness per source' })
    for (const source of sources) {
      const isStale = limit !== undefined && source.lagSeconds > limit
      const item = el('li', { class: isStale ? 'stale' : undefined, 'data-source': source.source })
      item.append(el('span', { class: 'source' }, source.source), el('span', {}, ` as of ${localTime(source.asOf)} `), el('span', { class: 'lag' }, `(${formatLag(source.lagSeconds)} behind${isStale ? `, over the ${formatLag(limit)} allowed` : ''})`))
      item.title = `${source.asOf} UTC${source.staleReason ? `; kept from an older state: ${source.staleReason}` : ''}`
      if (source.staleReason) item.append(el('span', { class: 'stale-reason' }, ` older state kept: ${source.staleReason}`))
      list.append(item)
    }
    details.append(list)
    parts.push(details)
  }
  if (snapshot) parts.push(el('p', { class: 'muted snapshot-line' }, snapshotText(snapshot)))
  container.replaceChildren(...parts)
}
