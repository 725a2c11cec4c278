/**
 * The history table's DETAIL column: an approval recorded by someone other than its approver
 * (a signed file handed in, an OIDC run) names the approver, so it does not read as the
 * submitter approving their own deployment.
 */
import { describe, expect, it } from 'vitest';
import { describeEvent } from '../../src/cli/history.ts';
import type { AuditEvent } from '../../src/state/state-store.ts';

function approval(actor: string, detail: Record<string, unknown>): AuditEvent {
  return {
    id: 1,
    at: '2026-12-06T18:00:00.000Z',
    actor,
    action: 'approval.recorded',
    environment: 'production',
    releaseId: 'r4',
    runId: null,
    result: 'ok',
    detail,
  };
}

describe('history DETAIL for approvals', () => {
  it('names the approver when someone else recorded the approval', () => {
    expect(describeEvent(approval('alice@x', { approver: 'bob@x', identity: 'signed' }))).toBe(
      'by bob@x',
    );
    expect(describeEvent(approval('alice@x', { approver: 'bob@x', comment: 'lgtm' }))).toBe(
      'by bob@x: "lgtm"',
    );
  });

  it('says nothing more when the approver recorded it', () => {
    expect(describeEvent(approval('bob@x', { approver: 'bob@x' }))).toBe('');
    expect(describeEvent(approval('bob@x', { approver: 'bob@x', comment: 'lgtm' }))).toBe('"lgtm"');
  });
});
