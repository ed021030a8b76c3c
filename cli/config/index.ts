export { ColdpipeConfigSchema, inspectConfig, inspectConfigFile, loadConfig, parseConfig, type ColdpipeConfig, type ConfigInspection } from './coldpipe-config.ts'
