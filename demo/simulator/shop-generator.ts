import { catalogItemFields, envelopeJson, money, orderFields } from './shop-envelopes.ts'

/** One message the simulator publishes. */
export interface ShopMessage {
  topic: string
  key: string
  value: string
}

/** Ids above what demo/shop seeds, so simulated rows never collide with seeded ones. */
export const firstSimulatedOrderId = 1_000_000
export const firstSimulatedItemId = 1_000_000

const statusFlow = ['submitted', 'awaitingvalidation', 'stockconfirmed', 'paid', 'shipped'] as const
const cities: [string, string][] = [
  ['Seattle', 'USA'],
  ['Redmond', 'USA'],
  ['Barcelona', 'Spain'],
  ['Madrid', 'Spain'],
  ['London', 'UK'],
  ['Berlin', 'Germany'],
]

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

type OrderRow = {
  id: number
  buyer_id: number
  status: string
  order_date: number
  updated_at: number
  total: string
  city: string
  country: string
}

type ItemRow = {
  id: number
  name: string
  description: string
  price: string
  brand_id: number
  type_id: number
  available_stock: number
  restock_threshold: number
  created_at: number
  updated_at: number
  priceCents: number
}

export interface ShopTopics {
  orders: string
  catalogItems: string
  orderingEvents: string
  catalogEvents: string
}

export const defaultShopTopics: ShopTopics = {
  orders: 'ordering.public.orders',
  catalogItems: 'catalog.public.catalog_items',
  orderingEvents: 'ordering.events',
  catalogEvents: 'catalog.events',
}

/**
 * Deterministic shop activity: the same seed gives the same sequence of messages (times come from
 * `now`). Orders are created and move through the status flow (CDC update + OrderStatusChanged event);
 * catalog items change stock (CDC update) and sometimes price (CDC update + PriceChanged event).
 */
export class ShopGenerator {
  private readonly next: () => number
  private lsn = 50_000_000
  private txId = 90_000
  private eventSeq = 0
  private nextOrderId = firstSimulatedOrderId
  private readonly openOrders: OrderRow[] = []
  private readonly items: ItemRow[] = []

  constructor(
    seed: number,
    private readonly topics: ShopTopics = defaultShopTopics,
    private readonly now: () => number = Date.now,
  ) {
    this.next = random(seed)
  }

  private int(max: number): number {
    return Math.floor(this.next() * max)
  }

  private micros(): number {
    return this.now() * 1000
  }

  private source(): { lsn: number; txId: number; tsMs: number } {
    this.lsn += 40 + this.int(400)
    return { lsn: this.lsn, txId: ++this.txId, tsMs: this.now() }
  }

  private eventId(): string {
    // Deterministic UUID-shaped id from the seed's sequence.
    const hex = Array.from({ length: 32 }, () => this.int(16).toString(16)).join('')
    this.eventSeq++
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`
  }

  /** The next step of shop activity: one to two messages. */
  step(): ShopMessage[] {
    if (this.items.length < 20) return [this.createItem()]
    const roll = this.next()
    if (roll < 0.3 || this.openOrders.length === 0) return [this.createOrder()]
    if (roll < 0.7) return this.advanceOrder()
    if (roll < 0.92) return [this.changeStock()]
    return this.changePrice()
  }

  private orderMessage(op: 'c' | 'u', before: OrderRow | null, after: OrderRow): ShopMessage {
    const { lsn, txId, tsMs } = this.source()
    return {
      topic: this.topics.orders,
      key: JSON.stringify({ id: after.id }),
      value: envelopeJson({ service: 'ordering', table: 'orders', fields: orderFields, op, before, after, lsn, txId, tsMs }),
    }
  }

  private createOrder(): ShopMessage {
    const [city, country] = cities[this.int(cities.length)]!
    const at = this.micros()
    const order: OrderRow = {
      id: this.nextOrderId++,
      buyer_id: 1 + this.int(50),
      status: 'submitted',
      order_date: at,
      updated_at: at,
      total: money(500 + this.int(50_000)),
      city,
      country,
    }
    this.openOrders.push(order)
    return this.orderMessage('c', null, order)
  }

  private advanceOrder(): ShopMessage[] {
    const index = this.int(this.openOrders.length)
    const before = this.openOrders[index]!
    const cancel = before.status !== 'paid' && this.next() < 0.08
    const status = cancel ? 'cancelled' : statusFlow[statusFlow.indexOf(before.status as (typeof statusFlow)[number]) + 1]!
    const after = { ...before, status, updated_at: this.micros() }
    if (status === 'shipped' || status === 'cancelled') this.openOrders.splice(index, 1)
    else this.openOrders[index] = after
    const event = {
      eventId: this.eventId(),
      eventType: 'OrderStatusChanged',
      occurredAt: new Date(this.now()).toISOString(),
      payload: { orderId: after.id, buyerId: after.buyer_id, oldStatus: before.status, status },
    }
    return [this.orderMessage('u', before, after), { topic: this.topics.orderingEvents, key: String(after.id), value: JSON.stringify(event) }]
  }

  private itemMessage(op: 'c' | 'u', before: ItemRow | null, after: ItemRow): ShopMessage {
    const { lsn, txId, tsMs } = this.source()
    const row = (item: ItemRow | null) => {
      if (!item) return null
      const { priceCents: _cents, ...columns } = item
      return columns
    }
    return {
      topic: this.topics.catalogItems,
      key: JSON.stringify({ id: after.id }),
      value: envelopeJson({ service: 'catalog', table: 'catalog_items', fields: catalogItemFields, op, before: row(before), after: row(after), lsn, txId, tsMs }),
    }
  }

  private createItem(): ShopMessage {
    const id = firstSimulatedItemId + this.items.length
    const priceCents = 499 + this.int(9_500)
    const at = this.micros()
    const item: ItemRow = {
      id,
      name: `Simulated item ${id}`,
      description: 'Added by the shop simulator',
      price: money(priceCents),
      priceCents,
      brand_id: 1 + this.int(5),
      type_id: 1 + this.int(4),
      available_stock: 50 + this.int(100),
      restock_threshold: 10,
      created_at: at,
      updated_at: at,
    }
    this.items.push(item)
    return this.itemMessage('c', null, item)
  }

  private changeStock(): ShopMessage {
    const index = this.int(this.items.length)
    const before = this.items[index]!
    const delta = before.available_stock <= before.restock_threshold ? 100 : -(1 + this.int(5))
    const after = { ...before, available_stock: before.available_stock + delta, updated_at: this.micros() }
    this.items[index] = after
    return this.itemMessage('u', before, after)
  }

  private changePrice(): ShopMessage[] {
    const index = this.int(this.items.length)
    const before = this.items[index]!
    const priceCents = Math.max(99, before.priceCents + (this.int(2001) - 1000))
    const after = { ...before, priceCents, price: money(priceCents), updated_at: this.micros() }
    this.items[index] = after
    const event = {
      eventId: this.eventId(),
      eventType: 'PriceChanged',
      occurredAt: new Date(this.now()).toISOString(),
      payload: { catalogItemId: after.id, oldPrice: (before.priceCents / 100).toFixed(2), newPrice: (priceCents / 100).toFixed(2) },
    }
    return [this.itemMessage('u', before, after), { topic: this.topics.catalogEvents, key: String(after.id), value: JSON.stringify(event) }]
  }
}
