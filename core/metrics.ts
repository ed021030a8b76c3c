import { collectDefaultMetrics, Registry } from 'prom-client'

/** One registry per process (or per test), passed to whatever records metrics; never prom-client's global. */
export function createMetricsRegistry(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry()
  registry.setDefaultLabels({ app: 'coldpipe' })
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'coldpipe_' })
  return registry
}

export type { Registry } from 'prom-client'
