import type { ApiHandler } from '../server/api-handler.ts'
import { fetchHandler } from './fetch/fetch.ts'
import { listOffsetsHandler } from './fetch/list-offsets.ts'
import { describeGroupsHandler } from './groups/describe-groups.ts'
import { findCoordinatorHandler } from './groups/find-coordinator.ts'
import { heartbeatHandler } from './groups/heartbeat.ts'
import { joinGroupHandler } from './groups/join-group.ts'
import { leaveGroupHandler } from './groups/leave-group.ts'
import { listGroupsHandler } from './groups/list-groups.ts'
import { offsetCommitHandler } from './groups/offset-commit.ts'
import { offsetFetchHandler } from './groups/offset-fetch.ts'
import { syncGroupHandler } from './groups/sync-group.ts'
import { createTopicsHandler } from './metadata/create-topics.ts'
import { deleteTopicsHandler } from './metadata/delete-topics.ts'
import { metadataHandler } from './metadata/metadata.ts'
import { initProducerIdHandler } from './produce/init-producer-id.ts'
import { produceHandler } from './produce/produce.ts'
import { apiVersionsHandler } from './versions/api-versions.ts'

/** Every API the broker implements; ApiVersions advertises exactly these ranges. */
export const apiHandlers: readonly ApiHandler[] = [
  produceHandler,
  fetchHandler,
  listOffsetsHandler,
  metadataHandler,
  offsetCommitHandler,
  offsetFetchHandler,
  findCoordinatorHandler,
  joinGroupHandler,
  heartbeatHandler,
  leaveGroupHandler,
  syncGroupHandler,
  describeGroupsHandler,
  listGroupsHandler,
  apiVersionsHandler,
  createTopicsHandler,
  deleteTopicsHandler,
  initProducerIdHandler,
]
