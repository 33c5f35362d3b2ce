import type { Route } from '#libs/config';
import type { HeaderList } from '#libs/upstream';
import type { Context } from '@opentelemetry/api';
import type { Waiter } from './waiter.js';

/**
 * joining    first waiter's join is on its way to the coordinator
 * open       part of a fleet slot; more local waiters attach and are reported
 * dispatched the fleet slot was flushed; waiting for the worker's answer
 * local      fleet unreachable: coalescing in this process, embedded policy
 * direct     this ingress is calling the origin itself for the slot
 * settled    answered
 */
export type SlotPhase = 'joining' | 'open' | 'dispatched' | 'local' | 'direct' | 'settled';

/** The upstream request every waiter of a slot is equivalent to. */
export interface SlotRequest {
  method: string;
  target: string;
  headers: HeaderList;
}

/** The waiters of one coalescing key inside this ingress. */
export interface LocalSlot {
  key: string;
  partition: number;
  route: Route;
  request: SlotRequest;
  scope: string;
  waiters: Waiter[];
  phase: SlotPhase;
  /** Fleet slot id once joined. */
  slotId: string | undefined;
  /** This slot's join opened the fleet slot: the worker replays its first waiter's request. */
  opened: boolean;
  /** Waiters the coordinator knows about (join count + reports). */
  counted: number;
  openedAtMs: number;
  lastArrivalMs: number;
  /** When the current phase gives up and the ingress answers directly (open/dispatched). */
  phaseDeadlineMs: number;
  /** Trace context of the leader's request. */
  context: Context;
}

/**
 * Joinable phases: a new waiter of the key attaches instead of opening a new
 * slot. On an `inflight: join` route also while its upstream call is in
 * flight (dispatched, or called here): the waiter shares that call.
 */
export function isJoinable(slot: LocalSlot): boolean {
  if (slot.phase === 'joining' || slot.phase === 'open' || slot.phase === 'local') return true;
  return slot.route.inflight === 'join' && (slot.phase === 'dispatched' || slot.phase === 'direct');
}
