import { UserError } from '../errors.ts';
import { audit } from '../state/audit.ts';
import {
  AUDIT_TAIL,
  type AuditVerification,
  describeAlteration,
  formatAuditHead,
} from '../state/audit-chain.ts';
import type { CommandIO } from './command-io.ts';
import { withSession } from './session.ts';

/** The `--json` shape of a verification. */
function verificationJson(v: AuditVerification) {
  return {
    ok: v.ok,
    checked: v.checked,
    unchained: v.unchained,
    head: v.head ? formatAuditHead(v.head) : null,
    firstBad: v.problems[0]?.id ?? null,
    problems: v.problems,
    accepted: v.accepted,
  };
}

/** How many problems are printed (all are in `--json`). */
const SHOWN = 20;

/**
 * `airlock audit verify`: re-hashes every event and checks each link and the head. A break is
 * recorded on the head (and audited as `audit.altered`), so every gate fails until accepted.
 * Exit 1 when the log was altered.
 */
export async function auditVerifyCommand(io: CommandIO): Promise<number> {
  return withSession(
    io,
    async ({ ctx }) => {
      const v = await ctx.store.verifyAudit();
      const missingGuards = await ctx.store.missingAuditGuards();
      io.reporter.result({ audit: { ...verificationJson(v), missingGuards } });
      if (missingGuards.length > 0)
        io.reporter.warn(
          `The audit log's guard trigger(s) ${missingGuards.join(', ')} are missing or disabled: someone with the tables' owner rights removed them. The next Airlock run as the owner recreates them; the chain still exposes what was changed meanwhile.`,
        );
      const first = v.problems[0];
      if (!first) {
        io.reporter.success(
          `The audit log is intact: ${v.checked} chained event(s) check out${v.head ? `, head #${formatAuditHead(v.head)}` : ''}${v.unchained ? `; ${v.unchained} older event(s) predate the chain` : ''}${v.accepted.length ? `; ${v.accepted.length} problem(s) accepted earlier` : ''}.`,
        );
        return 0;
      }
      for (const p of v.problems.slice(0, SHOWN)) io.reporter.warn(`#${p.id}: ${p.reason}`);
      if (v.problems.length > SHOWN)
        io.reporter.warn(`… and ${v.problems.length - SHOWN} more (--json lists them all).`);
      if (await ctx.store.markAuditBroken(first.id, first.reason)) {
        await audit(ctx, 'audit.altered', {
          environment: null,
          result: 'failed',
          detail: { at: first.id, reason: first.reason, problems: v.problems.length },
        });
      }
      throw new UserError('AUDIT_ALTERED', `${describeAlteration(v)}`, {
        hint: 'Every gate fails until the break is accepted: find out what changed (--json lists every problem), then run `airlock audit accept --reason "<why>"` (audited).',
        details: { firstBad: first.id },
      });
    },
    { recover: false },
  );
}

/**
 * `airlock audit accept --reason`: records `audit.accepted` (what it accepts, why, the head it
 * replaces), chained on the last stored event, and clears the head's break: a new segment.
 */
export async function auditAcceptCommand(io: CommandIO, opts: { reason: string }): Promise<number> {
  const reason = opts.reason.trim();
  if (!reason)
    throw new UserError('USAGE', '--reason must say why the break is accepted.', {
      hint: 'e.g. airlock audit accept --reason "restored from the 02:00 backup"',
    });
  return withSession(
    io,
    async ({ ctx }) => {
      const v = await ctx.store.verifyAudit();
      const first = v.problems[0];
      if (!first) {
        io.reporter.info('The audit log is intact: there is nothing to accept.');
        io.reporter.result({ accepted: null, audit: verificationJson(v) });
        return 0;
      }
      const event = await audit(
        { store: { appendAudit: (e) => ctx.store.acceptAudit(e) }, actor: ctx.actor, now: ctx.now },
        'audit.accepted',
        {
          environment: null,
          detail: {
            from: first.id,
            reason,
            problems: v.problems.slice(0, 100),
            previousHead: v.head ? formatAuditHead(v.head) : null,
          },
        },
      );
      const after = await ctx.store.verifyAudit({ tail: AUDIT_TAIL });
      io.reporter.success(
        `Accepted ${v.problems.length} problem(s) from #${first.id}; a new segment starts at #${event.id}. Gates hold again${after.ok ? '' : ` — but the tail still fails: ${describeAlteration(after)}`}.`,
      );
      io.reporter.result({
        accepted: { id: event.id, from: first.id },
        audit: verificationJson(after),
      });
      return after.ok ? 0 : 1;
    },
    { recover: false },
  );
}
