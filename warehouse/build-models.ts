import { quoteIdent, type Database } from '../core/duckdb/index.ts'
import { ColdpipeError, messageOf } from '../core/errors.ts'
import { loadModels, orderModels } from '../transform/models/index.ts'

/** Materializes every read model as `analytics.<name>`, dependencies first. Returns the names built. */
export async function buildModels(db: Database, dir: string | undefined): Promise<string[]> {
  const models = orderModels(await loadModels(dir))
  await db.run('DROP SCHEMA IF EXISTS analytics CASCADE; CREATE SCHEMA analytics')
  for (const model of models) {
    try {
      await db.run(`CREATE TABLE analytics.${quoteIdent(model.name)} AS ${model.sql}`)
    } catch (cause) {
      throw new ColdpipeError('WAREHOUSE_MODEL_FAILED', `read model ${model.name} (${model.file}) failed: ${messageOf(cause)}`, {
        cause,
        context: { model: model.name, file: model.file },
      })
    }
  }
  return models.map((m) => m.name)
}
