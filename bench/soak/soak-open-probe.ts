// Opens the lake's commit log on request, in a process of its own, and answers how long each open took.
// Opening in the soak process itself would also time that process's own state (its heap, ingest's work on the
// event loop), which grows and varies for reasons that are not the lake's; a reader such as `coldpipe status`
// opens the log in a fresh, small process like this one. Messages: { lakeRoot, runs } → { ms: number[] }.
import { CommitLog } from '../../lake/index.ts'

process.on('message', (message: { lakeRoot: string; runs: number }) => {
  void (async () => {
    const ms: number[] = []
    for (let i = 0; i < message.runs; i++) {
      const started = performance.now()
      await CommitLog.open(message.lakeRoot)
      ms.push(performance.now() - started)
    }
    process.send!({ ms })
  })().catch((error: unknown) => process.send!({ error: String(error) }))
})
process.on('disconnect', () => process.exit(0))
