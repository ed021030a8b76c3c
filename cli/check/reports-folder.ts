import { existsSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import type { ColdpipeConfig } from '../config/index.ts'
import { ColdpipeError } from '../../core/errors.ts'

/** The report folder: config `reports`, else `reports/` beside the config file. */
export function reportsFolderOf(config: ColdpipeConfig, configPath: string): string {
  return config.reports ?? resolve(configPath, '..', 'reports')
}

/** Whether the folder exists as a folder (an empty one is fine: reports can be added while serving). */
export function reportsFolderExists(folder: string): boolean {
  return existsSync(folder) && statSync(folder).isDirectory()
}

/** The report folder, or CONFIG_INVALID naming it: a server over a missing folder would start with no reports and say nothing. */
export function requireReportsFolder(config: ColdpipeConfig, configPath: string): string {
  const folder = reportsFolderOf(config, configPath)
  if (reportsFolderExists(folder)) return folder
  throw new ColdpipeError(
    'CONFIG_INVALID',
    `${configPath}: reports: folder ${folder} does not exist${config.reports ? '' : ' (the default, beside the config)'}; create it (one .sql file per report) or set \`reports\` to the folder of your reports`,
    { context: { path: 'reports', folder } },
  )
}
