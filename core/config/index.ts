export { ColdpipeConfigSchema, loadConfig, parseConfig, type ColdpipeConfig } from './coldpipe-config.ts'
export { formatPath, interpolateEnv, validateConfig } from './load-config.ts'
