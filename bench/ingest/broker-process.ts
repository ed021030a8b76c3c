// The dev broker in its own process, so the consumer under test does not share its event loop.
import { startDevBroker } from '../../dev-broker/index.ts'

const broker = await startDevBroker({ port: 0, retentionBytesPerPartition: 1024 * 1024 * 1024 })
process.stdout.write(`${JSON.stringify({ bootstrap: broker.bootstrap })}\n`)
process.once('SIGTERM', () => void broker.close().then(() => process.exit(0)))
