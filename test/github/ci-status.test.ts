import { describe, expect, it } from 'vitest';
import {
  type CheckRunFacts,
  checkRunState,
  combineCiStatus,
  commitStatusState,
  latestCheckRuns,
} from '../../src/github/ci-status.ts';

const SHA = 'f'.repeat(40);
let nextId = 1;

function run(
  name: string,
  status: string,
  conclusion: string | null,
  appId = 15368,
): CheckRunFacts {
  return {
    id: nextId++,
    name,
    status,
    conclusion,
    html_url: `https://github.com/acme/shop/runs/${nextId}`,
    details_url: null,
    app: { id: appId },
  };
}

describe('commit status and check run states', () => {
  it('maps commit statuses: error and failure fail', () => {
    expect(commitStatusState('success')).toBe('success');
    expect(commitStatusState('pending')).toBe('pending');
    expect(commitStatusState('failure')).toBe('failure');
    expect(commitStatusState('error')).toBe('failure');
  });

  it('maps check runs: unfinished is pending; success, neutral and skipped pass', () => {
    for (const status of ['queued', 'in_progress', 'waiting', 'requested', 'pending']) {
      expect(checkRunState(status, null)).toBe('pending');
    }
    for (const conclusion of ['success', 'neutral', 'skipped']) {
      expect(checkRunState('completed', conclusion)).toBe('success');
    }
    for (const conclusion of [
      'failure',
      'cancelled',
      'timed_out',
      'action_required',
      'stale',
      null,
    ]) {
      expect(checkRunState('completed', conclusion)).toBe('failure');
    }
  });

  it('keeps the newest run of a name per app (a re-run replaces the failed run)', () => {
    const failed = run('test', 'completed', 'failure');
    const rerun = run('test', 'completed', 'success');
    const otherApp = run('test', 'completed', 'failure', 42);
    expect(latestCheckRuns([rerun, failed, otherApp])).toEqual([rerun, otherApp]);
    const ci = combineCiStatus({ sha: SHA, statuses: [], checkRuns: [failed, rerun] });
    expect(ci.state).toBe('success');
    expect(ci.contexts).toHaveLength(1);
  });
});

describe('combineCiStatus', () => {
  it('is none with nothing reported, and says so', () => {
    const ci = combineCiStatus({ sha: SHA, statuses: [], checkRuns: [] });
    expect(ci).toEqual({
      sha: SHA,
      state: 'none',
      contexts: [],
      missing: [],
      summary: 'no status or check run was reported',
    });
  });

  it('orders failure over pending over success', () => {
    const ok = { context: 'build', state: 'success', target_url: null };
    const waiting = { context: 'lint', state: 'pending', target_url: null };
    expect(combineCiStatus({ sha: SHA, statuses: [ok], checkRuns: [] }).state).toBe('success');
    expect(combineCiStatus({ sha: SHA, statuses: [ok, waiting], checkRuns: [] }).state).toBe(
      'pending',
    );
    const ci = combineCiStatus({
      sha: SHA,
      statuses: [ok, waiting],
      checkRuns: [run('e2e', 'completed', 'cancelled')],
    });
    expect(ci.state).toBe('failure');
    expect(ci.summary).toBe('e2e (cancelled)');
  });

  it('counts only required names; a missing one is pending, even with nothing else', () => {
    const nothing = combineCiStatus({ sha: SHA, statuses: [], checkRuns: [], required: ['build'] });
    expect(nothing).toMatchObject({ state: 'pending', missing: ['build'] });
    expect(nothing.summary).toBe('not reported yet: build');

    const ci = combineCiStatus({
      sha: SHA,
      statuses: [{ context: 'build', state: 'success', target_url: 'https://ci/1' }],
      checkRuns: [run('optional', 'completed', 'failure')],
      required: ['build', 'build'],
    });
    expect(ci).toMatchObject({ state: 'success', missing: [] });
    expect(ci.contexts.map((c) => c.name)).toEqual(['build']);
    expect(ci.summary).toBe('1 required check passed: build');
  });

  it('takes the worst of a required name reported both as a status and a check run', () => {
    const ci = combineCiStatus({
      sha: SHA,
      statuses: [{ context: 'test', state: 'success', target_url: null }],
      checkRuns: [run('test', 'in_progress', null)],
      required: ['test'],
    });
    expect(ci.state).toBe('pending');
    expect(ci.summary).toBe('test (in_progress)');
  });

  it('is none when an empty required list asks for nothing', () => {
    const ci = combineCiStatus({
      sha: SHA,
      statuses: [{ context: 'build', state: 'failure', target_url: null }],
      checkRuns: [],
      required: [],
    });
    expect(ci.state).toBe('none');
    expect(ci.summary).toBe('no context is required');
  });
});
