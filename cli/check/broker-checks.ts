import { Kafka, logLevel } from 'kafkajs'
import type { ChangesConfig } from '../../ingest/changes/changes-config.ts'
import { messageOf } from '../../core/errors.ts'
import { fail, ok, warn, type CheckResult } from './check-result.ts'

/** The Kafka brokers answer a metadata request, and each configured topic exists there. */
export async function checkBrokers(changes: ChangesConfig | undefined, timeoutMs = 10_000): Promise<CheckResult[]> {
  if (!changes) return []
  const subject = 'brokers'
  const kafka = new Kafka({
    clientId: `${changes.clientId}-check`,
    brokers: changes.brokers,
    ...(changes.ssl !== undefined ? { ssl: changes.ssl as never } : {}),
    ...(changes.sasl ? { sasl: changes.sasl as never } : {}),
    logLevel: logLevel.NOTHING,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1000 },
  })
  const admin = kafka.admin()
  try {
    await admin.connect()
    const topics = new Set(await admin.listTopics())
    const results = [ok(subject, 'connect', `${changes.brokers.join(', ')} answered (${topics.size} topics)`)]
    changes.topics.forEach((topic, k) => {
      results.push(
        topics.has(topic.topic)
          ? ok(`topic ${topic.topic}`, 'exists', `exists on the brokers (lands in ${topic.service}.${topic.table ?? 'events'})`)
          : warn(`topic ${topic.topic}`, 'exists', 'does not exist on the brokers; ingest reads nothing from it until it is created', `create the topic, or fix changes.topics[${k}].topic`),
      )
    })
    return results
  } catch (error) {
    return [fail(subject, 'connect', `cannot reach ${changes.brokers.join(', ')}: ${messageOf(error)}`, 'check changes.brokers (host:port), ssl/sasl, and that the brokers accept connections from this machine')]
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}
