/**
 * The audit log's hash chain, pure: how an event is hashed, and how a run of stored events (the
 * whole log, or its newest events) is checked against itself and against the head row.
 *
 * Every event stores `prev_hash` (the previous event's `hash`; 64 zeros for the chain's first
 * event) and `hash = sha256(prev_hash + "\n" + content)`, where `content` is the JSON array of
 * the event's id, time, actor, action, environment, release, run, result and detail text. So an
 * event whose content changed no longer matches its hash, and an event removed or rewritten
 * (hash and all) breaks the link of the one after it. The head row (`audit_head`) names the
 * last event and its hash, so a removed tail shows too. What the chain cannot show — a database
 * owner rewriting the log and the head consistently — is exposed by comparing the head with a
 * copy kept outside (notifications and GitHub deployment statuses carry it); `docs/audit.md`
 * says so in plain words.
 */
import { createHash } from 'node:crypto';
import { AUDIT_GENESIS } from './audit-guards.ts';

/** How many of the newest events a gate (and `airlock history`) re-hashes, with the head row: a few ms at any size. */
export const AUDIT_TAIL = 32;

/** One stored event, as the chain sees it (the columns, detail as stored text). */
export interface ChainRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  environment: string | null;
  release_id: string | null;
  run_id: number | null;
  result: string;
  detail: string;
  prev_hash: string | null;
  hash: string | null;
}

/** The chain's head row: the last chained event and its hash. */
export interface AuditHead {
  /** Id of the last chained event; 0 before the first. */
  seq: number;
  /** Its hash (64 hex chars; 64 zeros before the first event). */
  hash: string;
  /** The first event id the chain covers; earlier events predate the chain. */
  chainStart: number;
  /** The first bad event found and not yet accepted (`airlock audit accept`), or null. */
  brokenAt: number | null;
  brokenReason: string | null;
}

/** One place the log was altered. */
export interface AuditProblem {
  /** The first event id concerned (for removed events: the first missing id). */
  id: number;
  /** One sentence: what is wrong with it. */
  reason: string;
}

export interface AuditVerification {
  /** True when no problem is left unaccepted. */
  ok: boolean;
  /** `full`: the whole log; `tail`: its newest events and the head (what a gate checks). */
  scope: 'full' | 'tail';
  /** Events whose hash was checked. */
  checked: number;
  /** Events written before the chain existed (not checked). */
  unchained: number;
  head: AuditHead | null;
  /** Problems not accepted, in id order; the first is "altered at #N". */
  problems: AuditProblem[];
  /** Problems an `audit.accepted` event covers (a new segment started after them). */
  accepted: AuditProblem[];
}

/** The canonical content of an event: what its hash covers. */
export function eventContent(r: Omit<ChainRow, 'prev_hash' | 'hash'>): string {
  return JSON.stringify([
    Number(r.id),
    r.at,
    r.actor,
    r.action,
    r.environment,
    r.release_id,
    r.run_id === null ? null : Number(r.run_id),
    r.result,
    r.detail,
  ]);
}

/** sha256 (hex) of `prev` and `content`: an event's hash. */
export function chainHash(prev: string, content: string): string {
  return createHash('sha256').update(`${prev}\n${content}`).digest('hex');
}

/** `seq:hash-prefix`, the head as notifications and GitHub statuses carry it (e.g. `1042:3f9a0c12d4e5b6a7`). */
export function formatAuditHead(head: Pick<AuditHead, 'seq' | 'hash'>): string {
  return `${head.seq}:${head.hash.slice(0, 16)}`;
}

/**
 * Checks stored events, fed in id order, against themselves and the head. `full`: from the
 * start of the log (the chain's first event must start from 64 zeros); `tail`: from an
 * arbitrary event (its link backwards is not checked).
 */
export class ChainCheck {
  readonly #scope: 'full' | 'tail';
  readonly #head: AuditHead | null;
  #last: { id: number; hash: string } | null = null;
  /** The highest id seen so far, chained or not. */
  #seen = 0;
  #checked = 0;
  #unchained = 0;
  readonly #problems: AuditProblem[] = [];
  /** `[from, to)`: ranges `audit.accepted` events accepted. */
  readonly #accepts: Array<[number, number]> = [];

  constructor(scope: 'full' | 'tail', head: AuditHead | null) {
    this.#scope = scope;
    this.#head = head;
  }

  add(row: ChainRow): void {
    const id = Number(row.id);
    const start = this.#head?.chainStart ?? 1;
    const seen = this.#seen;
    this.#seen = Math.max(seen, id);
    if (row.hash === null || row.prev_hash === null) {
      if (id < start) this.#unchained++;
      else
        this.#problem(
          id,
          'it carries no hash: it was written outside Airlock, or its hash was removed.',
        );
      return;
    }
    this.#checked++;
    if (id < start)
      this.#problem(
        id,
        `it is chained but lies before the chain's recorded start (#${start}): the head was edited.`,
      );
    if (chainHash(row.prev_hash, eventContent(row)) !== row.hash)
      this.#problem(id, 'its content no longer matches its hash: it was edited.');
    const last = this.#last;
    if (last) {
      if (row.prev_hash !== last.hash) {
        if (id > last.id + 1)
          this.#problem(
            last.id + 1,
            `${range(last.id + 1, id - 1)} missing: removed from the log.`,
          );
        else
          this.#problem(
            id,
            `it does not follow #${last.id}: #${last.id} was rewritten, or an event between them removed.`,
          );
      }
    } else if (this.#scope === 'full') {
      const from = Math.max(start, seen + 1);
      if (id > from) this.#problem(from, `${range(from, id - 1)} missing: removed from the log.`);
      else if (row.prev_hash !== AUDIT_GENESIS)
        this.#problem(
          start,
          `the chain's first events are missing: #${id} follows an event the log no longer holds.`,
        );
    }
    if (row.action === 'audit.accepted') {
      const from = Number((safeParse(row.detail) as { from?: unknown })?.from);
      if (Number.isInteger(from) && from <= id) this.#accepts.push([from, id]);
    }
    this.#last = { id, hash: row.hash };
  }

  /** The result, after comparing the last event with the head. */
  finish(): AuditVerification {
    const head = this.#head;
    const last = this.#last;
    if (!head) {
      if (last) this.#problem(last.id, 'the chain head row is missing: it was deleted.');
    } else {
      const lastId = last?.id ?? head.chainStart - 1;
      if (head.seq > lastId)
        this.#problem(
          lastId + 1,
          `${range(lastId + 1, head.seq)} missing: the head records #${head.seq}, the log ends at ${last ? `#${last.id}` : 'nothing'}.`,
        );
      else if (last && head.seq < last.id)
        this.#problem(
          head.seq + 1,
          `the head records #${head.seq} but the log ends at #${last.id}: events were added outside Airlock.`,
        );
      else if (last && head.hash !== last.hash)
        this.#problem(last.id, 'its hash differs from the one the head records: it was rewritten.');
      if (head.brokenAt !== null)
        this.#problem(head.brokenAt, head.brokenReason ?? 'found altered earlier.');
    }
    const accepted = (p: AuditProblem) =>
      this.#accepts.some(([from, to]) => from <= p.id && p.id < to);
    const sorted = [...this.#problems].sort((a, b) => a.id - b.id);
    const problems = sorted.filter((p) => !accepted(p));
    return {
      ok: problems.length === 0,
      scope: this.#scope,
      checked: this.#checked,
      unchained: this.#unchained,
      head,
      problems,
      accepted: sorted.filter(accepted),
    };
  }

  #problem(id: number, reason: string): void {
    if (!this.#problems.some((p) => p.id === id && p.reason === reason))
      this.#problems.push({ id, reason });
  }
}

function range(from: number, to: number): string {
  return from === to ? `event #${from} is` : `events #${from}–#${to} are`;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** "audit log altered at #N: reason", the sentence gates and commands print. */
export function describeAlteration(v: AuditVerification): string | null {
  const first = v.problems[0];
  return first ? `audit log altered at #${first.id}: ${first.reason}` : null;
}
