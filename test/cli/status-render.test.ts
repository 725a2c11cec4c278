// `airlock status`'s notes under the table: a release the runtime no longer serves says why when
// the runtime recorded its crash, and what to do.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Reporter } from '../../src/cli/reporter.ts';
import { renderStatus } from '../../src/cli/status.ts';
import type { EnvironmentStatus, ServiceStatus } from '../../src/pipeline/status.ts';

function render(
  service: Partial<ServiceStatus>,
  interrupted: EnvironmentStatus['interrupted'] = [],
): string {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let text = '';
  for (const stream of [stdout, stderr]) stream.on('data', (chunk: Buffer) => (text += chunk));
  const reporter = new Reporter({
    json: false,
    verbose: false,
    live: false,
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: stderr as unknown as NodeJS.WriteStream,
  });
  const status: EnvironmentStatus = {
    environment: 'staging',
    provider: 'local',
    protected: false,
    services: [
      {
        service: 'web',
        release: 'r4',
        commit: 'a'.repeat(40),
        dirty: false,
        digest: 'b'.repeat(64),
        since: '2026-12-06T15:00:00.000Z',
        url: 'http://127.0.0.1:6720',
        healthy: false,
        drift: true,
        restarts: 0,
        lastCrash: null,
        warm: [],
        ...service,
      },
    ],
    lastDeployment: null,
    lock: null,
    interrupted,
  } as EnvironmentStatus;
  renderStatus(reporter, [status], new Date('2026-12-06T15:01:00.000Z'));
  return text;
}

describe('renderStatus', () => {
  it('marks the commit of a release built from uncommitted changes', () => {
    expect(render({})).toMatch(/ aaaaaaa {2,}/);
    expect(render({ dirty: true })).toContain(' aaaaaaa (dirty) ');
  });

  it('says a recorded release that crashed was not started again, and to deploy it again', () => {
    const text = render({
      lastCrash: { at: '2026-12-06T15:00:30.000Z', release: 'r4', exitCode: 1, signal: null },
    });
    expect(text).toContain(
      'staging/web: r4 exited (code 1) at 2026-12-06T15:00:30.000Z and was not started again',
    );
    expect(text).toContain('its copy changed since it was deployed');
    expect(text).toContain('Deploy it again');
    expect(text).not.toContain('airlock local start');
  });

  it('without a crash of that release, says the runtime does not serve it', () => {
    const text = render({
      lastCrash: { at: '2026-12-06T14:00:00.000Z', release: 'r3', exitCode: 1, signal: null },
    });
    expect(text).toContain('staging/web: the runtime does not serve r4 as recorded');
    expect(text).not.toContain('was not started again');
  });

  it('with an interrupted run, says to resume it rather than to start the runtime', () => {
    const text = render({}, [
      { runId: 7, kind: 'deploy', releaseId: 'r4', startedAt: '2026-12-06T14:59:00.000Z' },
    ]);
    expect(text).toContain(
      'run #7 (deploy r4) was interrupted; `airlock resume staging` finishes it.',
    );
    expect(text).toContain(
      'staging/web: the runtime does not serve r4 as recorded, since a run was interrupted (above); `airlock resume staging` finishes it or puts back what served before.',
    );
    expect(text).not.toContain('airlock local start');
  });
});
