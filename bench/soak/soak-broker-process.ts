// The dev broker in a process of its own, so the soak's RSS is coldpipe's alone (`coldpipe start` runs no
// broker either). A few MiB per partition: the consumer keeps up, and nothing needs older batches.
import { startDevBroker } from '../../dev-broker/index.ts'

const broker = await startDevBroker({ port: 0, retentionBytesPerPartition: 4 * 1024 * 1024 })
process.stdout.write(`${JSON.stringify({ bootstrap: broker.bootstrap })}\n`)
process.once('SIGTERM', () => void broker.close().then(() => process.exit(0)))
