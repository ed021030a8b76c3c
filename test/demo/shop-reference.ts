import type { ShopDatabases } from '../../demo/shop/index.ts'

/**
 * The demo reports' expected answers, computed without the warehouse: each service's database is queried on
 * its own (they cannot join each other) and the joins happen here. Money is handled as integer cents.
 */

const ts = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'`
const day = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`

export interface ShopReference {
  items: { id: number; name: string; brand_id: number; type_id: number; available_stock: number; restock_threshold: number }[]
  brands: Map<number, string>
  types: Map<number, string>
  orders: Map<number, { id: number; buyer_id: number; status: string; day: string; at: string; total: number }>
  lines: { order_id: number; catalog_item_id: number; units: number; unit_price: number; discount: number }[]
  changes: { order_id: number; status: string; epoch: number; month: string; day: string }[]
  buyers: Map<number, string>
  users: Map<string, { name: string; email: string; country: string; city: string | null }>
}

export function cents(text: string): number {
  const [whole, fraction = ''] = text.replace('-', '').split('.')
  const value = Number(whole) * 100 + Number(fraction.padEnd(2, '0').slice(0, 2))
  return text.startsWith('-') ? -value : value
}

export function money(value: number): string {
  const abs = Math.abs(value)
  return `${value < 0 ? '-' : ''}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`
}

export async function loadShopReference(shop: ShopDatabases): Promise<ShopReference> {
  const [items, brands, types, orders, lines, changes, buyers, users] = await Promise.all([
    shop.query<ShopReference['items'][number]>('catalog', 'SELECT id, name, brand_id, type_id, available_stock, restock_threshold FROM catalog_items'),
    shop.query<{ id: number; brand: string }>('catalog', 'SELECT id, brand FROM catalog_brands'),
    shop.query<{ id: number; type: string }>('catalog', 'SELECT id, type FROM catalog_types'),
    shop.query<{ id: number; buyer_id: number; status: string; day: string; at: string; total: string }>(
      'ordering',
      `SELECT id, buyer_id, status, ${day('order_date')} AS day, ${ts('order_date')} AS at, total::text AS total FROM orders`,
    ),
    shop.query<{ order_id: number; catalog_item_id: number; units: number; unit_price: string; discount: string }>(
      'ordering',
      'SELECT order_id, catalog_item_id, units, unit_price::text AS unit_price, discount::text AS discount FROM order_items',
    ),
    shop.query<{ order_id: number; status: string; epoch: string; month: string; day: string }>(
      'ordering',
      `SELECT order_id, status, extract(epoch FROM changed_at)::bigint::text AS epoch, to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month, ${day('changed_at')} AS day FROM order_status_changes`,
    ),
    shop.query<{ id: number; user_id: string }>('ordering', 'SELECT id, user_id::text AS user_id FROM buyers'),
    shop.query<{ id: string; name: string; email: string; country: string; city: string | null }>('identity', 'SELECT id::text AS id, name, email, country, city FROM users'),
  ])
  return {
    items,
    brands: new Map(brands.map((b) => [b.id, b.brand])),
    types: new Map(types.map((t) => [t.id, t.type])),
    orders: new Map(orders.map((o) => [o.id, { ...o, total: cents(o.total) }])),
    lines: lines.map((l) => ({ ...l, unit_price: cents(l.unit_price), discount: cents(l.discount) })),
    changes: changes.map((c) => ({ ...c, epoch: Number(c.epoch) })),
    buyers: new Map(buyers.map((b) => [b.id, b.user_id])),
    users: new Map(users.map(({ id, ...profile }) => [id, profile])),
  }
}

const byKeys = <T>(...keys: ((row: T) => string | number)[]) => (a: T, b: T): number => {
  for (const key of keys) {
    const [x, y] = [key(a), key(b)]
    if (x !== y) return x < y ? -1 : 1
  }
  return 0
}

/** Non-cancelled order lines with their order day in [from, to]. */
function soldLines(ref: ShopReference, from: string, to: string) {
  return ref.lines.flatMap((line) => {
    const order = ref.orders.get(line.order_id)!
    return order.status !== 'cancelled' && order.day >= from && order.day <= to ? [{ ...line, day: order.day }] : []
  })
}

export function expectedRevenueByBrandType(ref: ShopReference, p: { from: string; to: string; brand?: string }) {
  const item = new Map(ref.items.map((i) => [i.id, i]))
  const groups = new Map<string, { day: string; brand: string; type: string; orders: Set<number>; units: number; revenue: number }>()
  for (const line of soldLines(ref, p.from, p.to)) {
    const catalogItem = item.get(line.catalog_item_id)!
    const brand = ref.brands.get(catalogItem.brand_id)!
    const type = ref.types.get(catalogItem.type_id)!
    if (p.brand !== undefined && brand !== p.brand) continue
    const key = `${line.day}|${brand}|${type}`
    const group = groups.get(key) ?? { day: line.day, brand, type, orders: new Set(), units: 0, revenue: 0 }
    group.orders.add(line.order_id)
    group.units += line.units
    group.revenue += line.units * line.unit_price - line.discount
    groups.set(key, group)
  }
  return [...groups.values()]
    .map((g) => ({ day: g.day, brand: g.brand, type: g.type, orders: g.orders.size, units: g.units, revenue: money(g.revenue) }))
    .sort(byKeys((r) => r.day, (r) => r.brand, (r) => r.type))
}

export function expectedStockVsSold(ref: ShopReference, p: { from: string; to: string; belowThreshold: boolean }) {
  const sold = new Map<number, { units: number; orders: Set<number> }>()
  for (const line of soldLines(ref, p.from, p.to)) {
    const entry = sold.get(line.catalog_item_id) ?? { units: 0, orders: new Set<number>() }
    entry.units += line.units
    entry.orders.add(line.order_id)
    sold.set(line.catalog_item_id, entry)
  }
  return ref.items
    .filter((i) => !p.belowThreshold || i.available_stock <= i.restock_threshold)
    .map((i) => ({
      catalog_item_id: i.id,
      name: i.name,
      brand: ref.brands.get(i.brand_id)!,
      type: ref.types.get(i.type_id)!,
      available_stock: i.available_stock,
      restock_threshold: i.restock_threshold,
      below_threshold: i.available_stock <= i.restock_threshold,
      units_sold: sold.get(i.id)?.units ?? 0,
      orders: sold.get(i.id)?.orders.size ?? 0,
    }))
    .sort(byKeys((r) => -r.units_sold, (r) => r.catalog_item_id))
}

export function expectedTopBuyers(ref: ShopReference, p: { top: number; country?: string }) {
  const spend = new Map<number, { orders: number; revenue: number; first: string; last: string }>()
  for (const order of ref.orders.values()) {
    if (order.status === 'cancelled') continue
    const entry = spend.get(order.buyer_id) ?? { orders: 0, revenue: 0, first: order.at, last: order.at }
    entry.orders++
    entry.revenue += order.total
    if (order.at < entry.first) entry.first = order.at
    if (order.at > entry.last) entry.last = order.at
    spend.set(order.buyer_id, entry)
  }
  return [...spend.entries()]
    .map(([buyerId, s]) => {
      const user = ref.users.get(ref.buyers.get(buyerId)!)!
      return { buyer_id: buyerId, ...user, orders: s.orders, revenueCents: s.revenue, first_order: s.first, last_order: s.last }
    })
    .filter((b) => p.country === undefined || b.country === p.country)
    .sort(byKeys((r) => -r.revenueCents, (r) => r.buyer_id))
    .slice(0, p.top)
    // In the report's column order, for the CSV comparison.
    .map((b) => ({ buyer_id: b.buyer_id, name: b.name, email: b.email, country: b.country, city: b.city, orders: b.orders, revenue: money(b.revenueCents), first_order: b.first_order, last_order: b.last_order }))
}

const funnelStatuses = {
  submitted: 'submitted',
  awaiting_validation: 'awaitingvalidation',
  stock_confirmed: 'stockconfirmed',
  paid: 'paid',
  shipped: 'shipped',
  cancelled: 'cancelled',
} as const

export function expectedOrderStatusFunnel(ref: ShopReference, p: { from?: string; to?: string }) {
  const firstAt = new Map<number, Map<string, { epoch: number; month: string; day: string }>>()
  for (const change of ref.changes) {
    const perOrder = firstAt.get(change.order_id) ?? new Map()
    const seen = perOrder.get(change.status)
    if (!seen || change.epoch < seen.epoch) perOrder.set(change.status, change)
    firstAt.set(change.order_id, perOrder)
  }
  const months = new Map<string, { counts: Record<keyof typeof funnelStatuses, number>; toPaid: number[] }>()
  for (const perOrder of firstAt.values()) {
    const submitted = perOrder.get('submitted')
    if (!submitted || (p.from && submitted.day < p.from) || (p.to && submitted.day > p.to)) continue
    const month = months.get(submitted.month) ?? { counts: { submitted: 0, awaiting_validation: 0, stock_confirmed: 0, paid: 0, shipped: 0, cancelled: 0 }, toPaid: [] }
    for (const [column, status] of Object.entries(funnelStatuses)) if (perOrder.has(status)) month.counts[column as keyof typeof funnelStatuses]++
    const paid = perOrder.get('paid')
    if (paid) month.toPaid.push(paid.epoch - submitted.epoch)
    months.set(submitted.month, month)
  }
  return [...months.entries()]
    .sort(byKeys(([m]) => m))
    .map(([month, { counts, toPaid }]) => ({ month, ...counts, median_hours_to_paid: toPaid.length ? (Math.round((median(toPaid) / 3600) * 10) / 10).toFixed(1) : null }))
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
