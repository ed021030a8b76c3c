/**
 * What was worked out once for a request shape (the raw query string and the headers that matter), per owner
 * object: a report definition, replaced and never mutated when its file changes, so a new version starts with
 * nothing remembered and an old one is forgotten with it. Bounded: past `maxShapes` per owner it starts over,
 * so a caller sending ever-new query strings costs memory in proportion to the bound, not to the history.
 */
export class RequestShapeMemo<Owner extends object, Value> {
  private readonly byOwner = new WeakMap<Owner, Map<string, Value>>()

  constructor(private readonly maxShapes: number) {}

  /** The value remembered for `shape`, or `compute()`'s (kept only when it returns; a throw is not remembered). */
  get(owner: Owner, shape: string, compute: () => Value): Value {
    let shapes = this.byOwner.get(owner)
    if (!shapes) this.byOwner.set(owner, (shapes = new Map()))
    let value = shapes.get(shape)
    if (value === undefined) {
      value = compute()
      if (shapes.size >= this.maxShapes) shapes.clear()
      shapes.set(shape, value)
    }
    return value
  }

  /** How many shapes are remembered for `owner`. */
  size(owner: Owner): number {
    return this.byOwner.get(owner)?.size ?? 0
  }
}
