export { starterConfigYaml, type StarterConfigInput } from './starter-config.ts'
export { suggestTable, updateTimeColumn, type TableSuggestion } from './suggest-table.ts'
export { writeStarterConfig, type InitOptions, type InitResult } from './write-starter-config.ts'
