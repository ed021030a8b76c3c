import type { KafkaErrorCode } from '../errors/kafka-error-code.ts'

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead'

export interface GroupProtocol {
  name: string
  metadata: Buffer
}

export interface JoinResult {
  errorCode: KafkaErrorCode
  generationId: number
  protocolName: string
  leaderId: string
  memberId: string
  /** Filled for the leader only: everyone's metadata for the chosen protocol. */
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[]
}

export interface SyncResult {
  errorCode: KafkaErrorCode
  assignment: Buffer
}

export interface Member {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  protocolType: string
  protocols: GroupProtocol[]
  assignment: Buffer
  /** Pending JoinGroup answer while the group gathers members. */
  awaitingJoin: ((result: JoinResult) => void) | null
  /** Pending SyncGroup answer while the leader has not sent assignments. */
  awaitingSync: ((result: SyncResult) => void) | null
  sessionTimer: NodeJS.Timeout | null
  /** True until the member's first join completes: no client knows this id yet. */
  isNew: boolean
}

/** State of one consumer group; the coordinator drives its transitions. */
export class Group {
  state: GroupState = 'Empty'
  generationId = 0
  protocolType: string | null = null
  protocolName: string | null = null
  leaderId: string | null = null
  readonly members = new Map<string, Member>()
  rebalanceTimer: NodeJS.Timeout | null = null

  constructor(readonly groupId: string) {}

  /** Whether a joining member shares at least one protocol with every current member. */
  acceptsProtocols(protocolType: string, protocols: readonly GroupProtocol[], except?: Member): boolean {
    const others = [...this.members.values()].filter((m) => m !== except)
    if (others.length === 0) return true
    if (protocolType !== this.protocolType) return false
    return protocols.some((p) => others.every((m) => m.protocols.some((q) => q.name === p.name)))
  }

  /** The protocol every member supports that gets the most first-choice votes (Kafka's rule). */
  selectProtocol(): string {
    const members = [...this.members.values()]
    const candidates = members[0]!.protocols
      .map((p) => p.name)
      .filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)))
    const votes = new Map<string, number>()
    for (const member of members) {
      const choice = member.protocols.find((p) => candidates.includes(p.name))
      if (choice) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1)
    }
    return candidates.reduce((best, name) => ((votes.get(name) ?? 0) > (votes.get(best) ?? 0) ? name : best), candidates[0]!)
  }

  metadataFor(member: Member): Buffer {
    return member.protocols.find((p) => p.name === this.protocolName)?.metadata ?? Buffer.alloc(0)
  }

  allAwaitingJoin(): boolean {
    return [...this.members.values()].every((m) => m.awaitingJoin !== null)
  }
}
