export { configInvalid, formatPath, interpolateEnv, schemaProblems, validateConfig, type ConfigProblem } from './load-config.ts'
export { cronProblem, scheduleProblems, timezoneProblem } from './schedule-problems.ts'
