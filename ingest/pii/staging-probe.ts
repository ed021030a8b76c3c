/** Where a landing has just written a scratch file under the lake's `_tmp/`. */
export interface StagedFile {
  /** Absolute path of the scratch file (an export's CSV chunk, a change batch's NDJSON). */
  path: string
  service: string
  table: string
  kind: 'export-csv' | 'changes-ndjson'
}

export type StagingProbe = (file: StagedFile) => Promise<void> | void

let probe: StagingProbe | undefined

/**
 * Sets the process's staging probe, called by every landing right after it wrote a scratch file and before
 * DuckDB reads it; returns the function that removes it. A failpoint: tests stop a landing there to read
 * every byte of the lake (scratch included) for plaintext of masked columns. None is set in normal runs.
 */
export function setStagingProbe(next: StagingProbe): () => void {
  probe = next
  return () => {
    if (probe === next) probe = undefined
  }
}

/** Calls the staging probe, if one is set; its error fails the landing like any other. */
export async function probeStaged(file: StagedFile): Promise<void> {
  if (probe) await probe(file)
}
