export { driverUrl, openCatalog, sourceKindOfUrl, type SourceKind } from './open-catalog.ts'
export { hasLeadingIndex, isUniqueKey, primaryKeyOf, type CatalogColumn, type CatalogIndex, type CatalogTable, type SourceCatalog } from './source-catalog.ts'
