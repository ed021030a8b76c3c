import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'

// Produce and consume throughput of kafkajs against the dev broker, with kcat (librdkafka) reading and
// writing the same volume as the baseline. The broker runs in its own process so it does not share an
// event loop with the kafkajs client being measured.
//   node --import tsx bench/broker/broker-bench.ts [messages] [partitions]
const MESSAGES = Number(process.argv[2] ?? 200_000)
const PARTITIONS = Number(process.argv[3] ?? 4)
const MESSAGE_BYTES = 1024
const SEND_BATCH = 1000

const mainScript = fileURLToPath(new URL('../../dev-broker/main.ts', import.meta.url))

async function startBrokerProcess(): Promise<{ bootstrap: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', mainScript, '--port', '0', '--partitions', String(PARTITIONS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let output = ''
  for await (const chunk of child.stdout!) {
    output += String(chunk)
    const ready = output.split('\n').find((line) => line.includes('"dev broker ready"'))
    if (ready) return { bootstrap: (JSON.parse(ready) as { bootstrap: string }).bootstrap, child }
  }
  throw new Error(`dev broker exited before it was ready:\n${output}`)
}

function timeCommand(command: string, args: string[]): Promise<number> {
  const started = performance.now()
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${command} exited ${code}`))))
  })
}

interface Row {
  run: string
  ms: number
}

const payloads = Array.from({ length: 64 }, () => randomBytes(MESSAGE_BYTES * 0.75).toString('base64'))

async function kafkajsProduce(kafka: Kafka, topic: string): Promise<number> {
  const producer = kafka.producer({ allowAutoTopicCreation: true })
  await producer.connect()
  const started = performance.now()
  for (let sent = 0; sent < MESSAGES; sent += SEND_BATCH) {
    const count = Math.min(SEND_BATCH, MESSAGES - sent)
    await producer.send({ topic, acks: 1, messages: Array.from({ length: count }, (_, i) => ({ value: payloads[(sent + i) % 64]! })) })
  }
  const ms = performance.now() - started
  await producer.disconnect()
  return ms
}

async function kafkajsConsume(kafka: Kafka, topic: string): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-${Date.now()}`, maxBytesPerPartition: 4 * 1024 * 1024, maxBytes: 16 * 1024 * 1024 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  let seen = 0
  const started = performance.now()
  const done = new Promise<number>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length
        if (seen >= MESSAGES) resolve(performance.now() - started)
      },
    })
  })
  const ms = await done
  await consumer.disconnect()
  return ms
}

async function writeKcatInput(file: string): Promise<void> {
  const out = createWriteStream(file)
  for (let i = 0; i < MESSAGES; i++) {
    if (!out.write(`${payloads[i % 64]}\n`)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
}

function rate(ms: number): { perSecond: number; mbPerSecond: number } {
  return { perSecond: MESSAGES / (ms / 1000), mbPerSecond: (MESSAGES * MESSAGE_BYTES) / 1024 / 1024 / (ms / 1000) }
}

const { bootstrap, child } = await startBrokerProcess()
const workDir = await mkdtemp(join(tmpdir(), 'broker-bench-'))
try {
  const kafka = new Kafka({ clientId: 'broker-bench', brokers: [bootstrap], logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  const topic = `bench-${Date.now()}`
  const kcatTopic = `${topic}-kcat`
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }, { topic: kcatTopic, numPartitions: PARTITIONS }] })
  await admin.disconnect()

  const rows: Row[] = []
  rows.push({ run: 'kafkajs produce', ms: await kafkajsProduce(kafka, topic) })
  const input = join(workDir, 'messages.txt')
  await writeKcatInput(input)
  rows.push({ run: 'kcat produce', ms: await timeCommand('kcat', ['-b', bootstrap, '-P', '-t', kcatTopic, '-l', input]) })
  rows.push({ run: 'kafkajs consume', ms: await kafkajsConsume(kafka, topic) })
  // As specified: -e ends on an empty fetch at the high watermark, which long-polls fetch.wait.max.ms
  // (500 ms) first; the -c row stops at the last message instead and shows the data phase alone.
  rows.push({ run: 'kcat consume', ms: await timeCommand('kcat', ['-b', bootstrap, '-C', '-t', topic, '-e', '-o', 'beginning', '-q']) })
  rows.push({
    run: 'kcat consume -c',
    ms: await timeCommand('kcat', ['-b', bootstrap, '-C', '-t', topic, '-c', String(MESSAGES), '-o', 'beginning', '-q']),
  })

  const byRun = new Map(rows.map((r) => [r.run, r.ms]))
  console.log(`\n${MESSAGES} messages of ${MESSAGE_BYTES} B, ${PARTITIONS} partitions, broker ${bootstrap}\n`)
  console.log('run               seconds     msg/s      MB/s')
  for (const row of rows) {
    const { perSecond, mbPerSecond } = rate(row.ms)
    console.log(
      `${row.run.padEnd(16)} ${(row.ms / 1000).toFixed(2).padStart(8)} ${Math.round(perSecond).toString().padStart(9)} ${mbPerSecond.toFixed(1).padStart(9)}`,
    )
  }
  const ratio = (a: string, b: string) => (byRun.get(b)! / byRun.get(a)!).toFixed(2)
  console.log(`\nkcat consume / kafkajs consume: ${ratio('kcat consume', 'kafkajs consume')}x`)
  console.log(`kcat consume -c / kafkajs consume: ${ratio('kcat consume -c', 'kafkajs consume')}x`)
  console.log(`kcat produce / kafkajs produce: ${ratio('kcat produce', 'kafkajs produce')}x`)
} finally {
  child.kill('SIGTERM')
  await once(child, 'exit')
  await rm(workDir, { recursive: true, force: true })
}
