import { fileURLToPath } from 'node:url'

export { startShopDatabases, shopServices, type ShopDatabases, type ShopDatabasesOptions, type ShopService } from './shop-databases.ts'
export { demoExports } from './demo-exports.ts'
export { shopSeedDates, shopSeedSize } from './seed-sql.ts'

/** The demo's report definitions (one SQL file each), for the reports API. */
export const demoReportsDir: string = fileURLToPath(new URL('../reports', import.meta.url))
/** The demo's read models and their data tests (`tests.yaml`), for publish. */
export const demoModelsDir: string = fileURLToPath(new URL('../models', import.meta.url))
