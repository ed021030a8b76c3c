export * from './events/index.ts'
export * from './merge/index.ts'
export * from './models/index.ts'
