import { UserError } from '../errors.ts';
import { migrationLabel } from '../migrations/migration-name.ts';
import { AUDIT_TAIL, describeAlteration } from '../state/audit-chain.ts';
import type { AuditEvent } from '../state/state-store.ts';
import type { CommandIO } from './command-io.ts';
import type { Reporter } from './reporter.ts';
import { withSession } from './session.ts';

function positive(text: string, what: string): number {
  const n = Number.parseInt(text, 10);
  if (!Number.isFinite(n) || n <= 0)
    throw new UserError('USAGE', `${what} must be a positive number, got "${text}".`);
  return n;
}

/** The short "what" of an audit event, for the table. */
export function describeEvent(e: AuditEvent): string {
  const d = e.detail as Record<string, unknown>;
  if (typeof d.reason === 'string') return d.reason;
  if (Array.isArray(d.gates))
    return (d.gates as Array<{ gate: string; reason: string }>)
      .map((g) => `${g.gate}: ${g.reason}`)
      .join('; ');
  if (Array.isArray(d.applied))
    return (d.applied as Array<{ version: number; name: string }>)
      .map((a) => migrationLabel(a.version, a.name))
      .join(', ');
  if (typeof d.rolledBackTo === 'string') return `rolled back to ${d.rolledBackTo}`;
  if (typeof d.from === 'string' || d.from === null)
    return `from ${d.from ?? 'nothing'}${typeof d.durationMs === 'number' ? ` in ${d.durationMs} ms` : ''}`;
  // An approval handed in by someone else (a signed file, an OIDC run) names its approver: the
  // actor column is who recorded it.
  const by = typeof d.approver === 'string' && d.approver !== e.actor ? `by ${d.approver}` : null;
  if (typeof d.comment === 'string') return by ? `${by}: "${d.comment}"` : `"${d.comment}"`;
  if (by) return by;
  if (typeof d.commit === 'string')
    return `commit ${d.commit.slice(0, 7)}${d.dirty ? ' (dirty)' : ''}`;
  if (typeof d.step === 'string') return `during ${d.step}`;
  return '';
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The audit log table (details cut to one line; `--json` has them whole). */
export function renderHistory(reporter: Reporter, events: AuditEvent[]): void {
  reporter.table(
    ['#', 'TIME', 'ENVIRONMENT', 'EVENT', 'RELEASE', 'ACTOR', 'RESULT', 'DETAIL'],
    events.map((e) => [
      e.id,
      e.at.replace('T', ' ').slice(0, 19),
      e.environment,
      e.action,
      e.releaseId,
      e.actor,
      e.result,
      truncate(describeEvent(e), 72),
    ]),
  );
}

/** `airlock history [env] [--steps]`: the audit log, newest first (step events with `--steps`). */
export async function historyCommand(
  io: CommandIO,
  environment: string | undefined,
  opts: { limit: string; steps?: boolean },
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      // Each run writes an event per step: shown on request, so a page holds operations.
      const events = await session.ctx.store.listAudit({
        limit: positive(opts.limit, '--limit'),
        ...(environment ? { environment } : {}),
        ...(opts.steps ? {} : { steps: false }),
      });
      renderHistory(io.reporter, events);
      // The newest events and the head, re-hashed (a few ms): an altered log is never shown silently.
      const chain = await session.ctx.store.verifyAudit({ tail: AUDIT_TAIL });
      const altered = describeAlteration(chain);
      if (altered)
        io.reporter.warn(
          `${altered} Run \`airlock audit verify\` for every problem; gates fail until \`airlock audit accept --reason "<why>"\`.`,
        );
      io.reporter.result({ events, auditChain: { ok: chain.ok, alteration: altered } });
      return 0;
    },
    { environments: [environment] },
  );
}

/** `airlock releases`: built releases, newest first. */
export async function releasesCommand(io: CommandIO, opts: { limit: string }): Promise<number> {
  return withSession(io, async (session) => {
    const releases = await session.ctx.store.listReleases(positive(opts.limit, '--limit'));
    io.reporter.table(
      ['RELEASE', 'COMMIT', 'RELEASE DIGEST', 'SUBJECT', 'BUILT', 'BY'],
      releases.map((r) => [
        r.id,
        `${r.commit.slice(0, 7)}${r.dirty ? ' (dirty)' : ''}`,
        `sha256:${r.digest.slice(0, 12)}`,
        r.subject,
        r.createdAt.replace('T', ' ').slice(0, 19),
        r.createdBy,
      ]),
    );
    io.reporter.result({ releases });
    return 0;
  });
}
