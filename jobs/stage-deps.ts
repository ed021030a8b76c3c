import type { ColdpipeConfig } from '../core/config/index.ts'
import type { Logger } from '../core/logger.ts'
import type { JobStageDeps } from './build-jobs.ts'

/** Builds the stage functions jobs call, registering whatever it opens with `onShutdown`. */
export type StageDepsLoader = (
  config: ColdpipeConfig,
  logger: Logger,
  onShutdown: (close: () => Promise<void> | void) => void,
) => Promise<JobStageDeps>

/**
 * The stages `coldpipe jobs run` and `coldpipe start` use. Wiring point for the exporter
 * (`createExporter(...).runExport`), the warehouse (`publish`, `compact`, `applyRetention`): until a stage
 * is wired here its job fails with JOB_NOT_CONFIGURED, naming what is missing.
 */
export const loadStageDeps: StageDepsLoader = async () => ({})
