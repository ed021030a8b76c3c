import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { KafkaErrorCode } from '../errors/kafka-error-code.ts'
import { Group, type GroupProtocol, type GroupState, type JoinResult, type Member, type SyncResult } from './group.ts'
import type { OffsetStore } from './offset-store.ts'

export interface JoinRequest {
  groupId: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  memberId: string
  groupInstanceId: string | null
  protocolType: string
  protocols: GroupProtocol[]
  clientId: string
  clientHost: string
}

export interface SyncRequest {
  groupId: string
  generationId: number
  memberId: string
  assignments: Map<string, Buffer>
}

export interface GroupDescription {
  groupId: string
  state: GroupState
  protocolType: string
  protocolName: string
  members: { memberId: string; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }[]
}

export interface GroupCoordinatorOptions {
  minSessionTimeoutMs: number
  maxSessionTimeoutMs: number
}

const EMPTY = Buffer.alloc(0)

function joinError(errorCode: KafkaErrorCode, memberId: string): JoinResult {
  return { errorCode, generationId: -1, protocolName: '', leaderId: '', memberId, members: [] }
}

/** Settles at most once and detaches from the abort signal when it does. */
function pending<T>(signal: AbortSignal, onAbort: () => void, start: (settle: (value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve) => {
    const abort = () => onAbort()
    const settle = (value: T) => {
      signal.removeEventListener('abort', abort)
      resolve(value)
    }
    signal.addEventListener('abort', abort, { once: true })
    start(settle)
  })
}

/**
 * The classic consumer group protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup): gathers members
 * into generations, elects a leader that assigns partitions, and triggers a rebalance whenever a member
 * joins, leaves or stays silent past its session timeout.
 */
export class GroupCoordinator {
  private readonly groups = new Map<string, Group>()

  constructor(
    private readonly offsets: OffsetStore,
    private readonly options: GroupCoordinatorOptions,
    private readonly logger: Logger,
  ) {}

  private groupFor(groupId: string): Group {
    let group = this.groups.get(groupId)
    if (!group) this.groups.set(groupId, (group = new Group(groupId)))
    return group
  }

  async join(request: JoinRequest, signal: AbortSignal): Promise<JoinResult> {
    if (request.groupId === '') return joinError(KafkaErrorCode.INVALID_GROUP_ID, request.memberId)
    const { minSessionTimeoutMs, maxSessionTimeoutMs } = this.options
    if (request.sessionTimeoutMs < minSessionTimeoutMs || request.sessionTimeoutMs > maxSessionTimeoutMs) {
      return joinError(KafkaErrorCode.INVALID_SESSION_TIMEOUT, request.memberId)
    }
    if (request.protocolType === '' || request.protocols.length === 0) {
      return joinError(KafkaErrorCode.INCONSISTENT_GROUP_PROTOCOL, request.memberId)
    }
    const group = this.groupFor(request.groupId)
    let member = request.memberId === '' ? undefined : group.members.get(request.memberId)
    if (request.memberId !== '' && !member) return joinError(KafkaErrorCode.UNKNOWN_MEMBER_ID, request.memberId)
    if (!group.acceptsProtocols(request.protocolType, request.protocols, member)) {
      return joinError(KafkaErrorCode.INCONSISTENT_GROUP_PROTOCOL, request.memberId)
    }

    if (!member) {
      member = this.addMember(group, request)
    } else {
      const unchanged = sameProtocols(member.protocols, request.protocols)
      Object.assign(member, {
        sessionTimeoutMs: request.sessionTimeoutMs,
        rebalanceTimeoutMs: request.rebalanceTimeoutMs,
        protocols: request.protocols,
        clientHost: request.clientHost,
      })
      // A follower re-sending what the group already has needs no new generation (Kafka does the same).
      const isFollower = member.memberId !== group.leaderId
      if (unchanged && (group.state === 'CompletingRebalance' || (group.state === 'Stable' && isFollower))) {
        this.touch(group, member)
        return this.joinResultFor(group, member)
      }
      member.awaitingJoin?.(joinError(KafkaErrorCode.REBALANCE_IN_PROGRESS, member.memberId))
      member.awaitingJoin = null
    }

    const joining = member
    return pending<JoinResult>(
      signal,
      () => this.abandonJoin(group, joining),
      (settle) => {
        joining.awaitingJoin = settle
        if (joining.sessionTimer) clearTimeout(joining.sessionTimer)
        if (group.state !== 'PreparingRebalance') this.prepareRebalance(group, `member ${joining.memberId} joined`)
        this.maybeCompleteJoin(group)
      },
    )
  }

  private addMember(group: Group, request: JoinRequest): Member {
    const member: Member = {
      memberId: `${request.clientId || 'member'}-${randomUUID()}`,
      groupInstanceId: request.groupInstanceId,
      clientId: request.clientId,
      clientHost: request.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols,
      assignment: EMPTY,
      awaitingJoin: null,
      awaitingSync: null,
      sessionTimer: null,
      isNew: true,
    }
    if (group.members.size === 0) group.protocolType = request.protocolType
    group.members.set(member.memberId, member)
    return member
  }

  /** The connection waiting for a join went away: forget the wait, and a member nobody knows of. */
  private abandonJoin(group: Group, member: Member): void {
    if (member.awaitingJoin === null || group.members.get(member.memberId) !== member) return
    member.awaitingJoin = null
    if (member.isNew) this.removeMember(group, member, 'join abandoned')
    else this.touch(group, member)
  }

  private joinResultFor(group: Group, member: Member): JoinResult {
    const isLeader = member.memberId === group.leaderId
    return {
      errorCode: KafkaErrorCode.NONE,
      generationId: group.generationId,
      protocolName: group.protocolName ?? '',
      leaderId: group.leaderId ?? '',
      memberId: member.memberId,
      members: isLeader
        ? [...group.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            metadata: group.metadataFor(m),
          }))
        : [],
    }
  }

  private prepareRebalance(group: Group, reason: string): void {
    if (group.state === 'CompletingRebalance') {
      for (const m of group.members.values()) {
        m.awaitingSync?.({ errorCode: KafkaErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY })
        m.awaitingSync = null
      }
    }
    group.state = 'PreparingRebalance'
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer)
    const timeoutMs = Math.max(0, ...[...group.members.values()].map((m) => m.rebalanceTimeoutMs))
    group.rebalanceTimer = setTimeout(() => this.completeJoin(group), timeoutMs).unref()
    this.logger.info({ groupId: group.groupId, generationId: group.generationId, reason }, 'group rebalancing')
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return
    if (group.members.size === 0 || group.allAwaitingJoin()) this.completeJoin(group)
  }

  /** Closes the join phase: members that did not rejoin in time are dropped, the rest get a generation. */
  private completeJoin(group: Group): void {
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer)
    group.rebalanceTimer = null
    for (const m of [...group.members.values()]) {
      if (m.awaitingJoin === null) this.dropMember(group, m, 'did not rejoin within the rebalance timeout')
    }
    group.generationId++
    if (group.members.size === 0) {
      Object.assign(group, { state: 'Empty', protocolName: null, leaderId: null, protocolType: null })
      return
    }
    group.protocolName = group.selectProtocol()
    if (group.leaderId === null || !group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value!
    group.state = 'CompletingRebalance'
    this.logger.info(
      { groupId: group.groupId, generationId: group.generationId, members: group.members.size },
      'group generation formed',
    )
    for (const m of group.members.values()) {
      const answer = m.awaitingJoin!
      m.awaitingJoin = null
      m.isNew = false
      m.assignment = EMPTY
      this.touch(group, m)
      answer(this.joinResultFor(group, m))
    }
  }

  async sync(request: SyncRequest, signal: AbortSignal): Promise<SyncResult> {
    const group = this.groups.get(request.groupId)
    const member = group?.members.get(request.memberId)
    if (!group || !member) return { errorCode: KafkaErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY }
    if (request.generationId !== group.generationId) return { errorCode: KafkaErrorCode.ILLEGAL_GENERATION, assignment: EMPTY }
    if (group.state === 'PreparingRebalance') return { errorCode: KafkaErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY }
    this.touch(group, member)
    if (group.state === 'Stable') return { errorCode: KafkaErrorCode.NONE, assignment: member.assignment }
    return pending<SyncResult>(
      signal,
      () => {
        member.awaitingSync = null
      },
      (settle) => {
        member.awaitingSync = settle
        if (member.memberId === group.leaderId) this.completeSync(group, request.assignments)
      },
    )
  }

  private completeSync(group: Group, assignments: Map<string, Buffer>): void {
    group.state = 'Stable'
    for (const m of group.members.values()) {
      m.assignment = assignments.get(m.memberId) ?? EMPTY
      m.awaitingSync?.({ errorCode: KafkaErrorCode.NONE, assignment: m.assignment })
      m.awaitingSync = null
    }
    this.logger.info({ groupId: group.groupId, generationId: group.generationId }, 'group stable')
  }

  heartbeat(groupId: string, generationId: number, memberId: string): KafkaErrorCode {
    const group = this.groups.get(groupId)
    const member = group?.members.get(memberId)
    if (!group || !member) return KafkaErrorCode.UNKNOWN_MEMBER_ID
    if (generationId !== group.generationId) return KafkaErrorCode.ILLEGAL_GENERATION
    this.touch(group, member)
    return group.state === 'PreparingRebalance' ? KafkaErrorCode.REBALANCE_IN_PROGRESS : KafkaErrorCode.NONE
  }

  leave(groupId: string, memberId: string): KafkaErrorCode {
    const group = this.groups.get(groupId)
    const member = group?.members.get(memberId)
    if (!group || !member) return KafkaErrorCode.UNKNOWN_MEMBER_ID
    this.removeMember(group, member, 'left the group')
    return KafkaErrorCode.NONE
  }

  /** Whether an OffsetCommit from this member and generation may be applied now. */
  checkCommit(groupId: string, generationId: number, memberId: string): KafkaErrorCode {
    const group = this.groupFor(groupId)
    // Commits outside group management (admin tools, manual assignment) are fine while nobody is in it.
    if (generationId < 0 && memberId === '') {
      return group.members.size === 0 ? KafkaErrorCode.NONE : KafkaErrorCode.UNKNOWN_MEMBER_ID
    }
    const member = group.members.get(memberId)
    if (!member) return KafkaErrorCode.UNKNOWN_MEMBER_ID
    if (generationId !== group.generationId) return KafkaErrorCode.ILLEGAL_GENERATION
    if (group.state === 'CompletingRebalance') return KafkaErrorCode.REBALANCE_IN_PROGRESS
    this.touch(group, member)
    return KafkaErrorCode.NONE
  }

  describe(groupId: string): GroupDescription {
    const group = this.groups.get(groupId)
    if (!group) {
      const state = this.offsets.groupIds().includes(groupId) ? 'Empty' : 'Dead'
      return { groupId, state, protocolType: '', protocolName: '', members: [] }
    }
    return {
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocolName: group.protocolName ?? '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: group.metadataFor(m),
        assignment: m.assignment,
      })),
    }
  }

  list(): { groupId: string; protocolType: string }[] {
    const ids = new Set([...this.groups.keys(), ...this.offsets.groupIds()])
    return [...ids].map((groupId) => ({ groupId, protocolType: this.groups.get(groupId)?.protocolType ?? '' }))
  }

  /** Restarts the member's session clock; silence past it removes the member. */
  private touch(group: Group, member: Member): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer)
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = null
      if (group.members.get(member.memberId) !== member) return
      // Members parked in a join or sync are not expected to heartbeat.
      if (member.awaitingJoin || member.awaitingSync) return this.touch(group, member)
      this.removeMember(group, member, 'session timeout')
    }, member.sessionTimeoutMs).unref()
  }

  private dropMember(group: Group, member: Member, reason: string): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer)
    member.sessionTimer = null
    group.members.delete(member.memberId)
    member.awaitingJoin?.(joinError(KafkaErrorCode.UNKNOWN_MEMBER_ID, member.memberId))
    member.awaitingSync?.({ errorCode: KafkaErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY })
    member.awaitingJoin = null
    member.awaitingSync = null
    this.logger.info({ groupId: group.groupId, memberId: member.memberId, reason }, 'group member removed')
  }

  private removeMember(group: Group, member: Member, reason: string): void {
    this.dropMember(group, member, reason)
    if (group.state === 'Stable' || group.state === 'CompletingRebalance') this.prepareRebalance(group, reason)
    this.maybeCompleteJoin(group)
  }

  close(): void {
    for (const group of this.groups.values()) {
      if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer)
      for (const m of group.members.values()) if (m.sessionTimer) clearTimeout(m.sessionTimer)
    }
    this.groups.clear()
  }
}

function sameProtocols(a: readonly GroupProtocol[], b: readonly GroupProtocol[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]!.name && p.metadata.equals(b[i]!.metadata))
}
