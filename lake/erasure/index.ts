export { activeMatches, erasureDir, erasureListFile, readErasureList, receiptFile, updateErasureList, type ErasureEntry, type ErasureListDocument } from './erasure-list.ts'
export { commitRewrites, fileSelect, type FileSelect, type PlannedRewrite, type RewriteOutcome } from './rewrite-files.ts'
export { collectErasureStatus, renderErasures, type ErasureStatus, type ErasureStatusEntry } from './erasure-status.ts'
export { startErasureAlerts, type ErasureAlert, type ErasureAlerts, type ErasureAlertsOptions } from './erasure-alerts.ts'
