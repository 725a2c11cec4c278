/**
 * Live pages on Postgres state: two servers on one database, each with its own store (as on two
 * machines). A step written through one store reaches a Server-Sent Events client of the other
 * through LISTEN/NOTIFY: the servers' poll interval is an hour, so nothing else could bring it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ResolvedConfig } from '../../src/config/resolve.ts';
import type { AirlockContext } from '../../src/pipeline/context.ts';
import { type RunningServer, startServer } from '../../src/server/serve.ts';
import { createToken } from '../../src/server/tokens.ts';
import { PostgresStateStore } from '../../src/state/postgres-state-store.ts';
import type { RunStep } from '../../src/state/state-store.ts';
import { createTestDatabase, describeIfPostgres, type TestDatabase } from '../helpers/postgres.ts';

const HOUR_MS = 3_600_000;

/** The little of a context the server's live routes and tokens use. */
function contextOf(store: PostgresStateStore, dir: string): AirlockContext {
  const config = {
    dir,
    project: 'live',
    pipeline: ['staging'],
    environments: { staging: { promotion: { approval: { allowedSigners: 'allowed_signers' } } } },
  } as unknown as ResolvedConfig;
  return { store, config, actor: 'test', now: () => new Date() } as unknown as AirlockContext;
}

/** Reads Server-Sent Events from `response` until one's data contains `marker`. */
async function eventContaining(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  buffer: { text: string },
  marker: string,
): Promise<string> {
  const decoder = new TextDecoder();
  for (;;) {
    let end = buffer.text.indexOf('\n\n');
    while (end >= 0) {
      const event = buffer.text.slice(0, end);
      buffer.text = buffer.text.slice(end + 2);
      if (event.includes(marker)) return event;
      end = buffer.text.indexOf('\n\n');
    }
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended before an event with ${marker}`);
    buffer.text += decoder.decode(value, { stream: true });
  }
}

describeIfPostgres(
  'live pages on Postgres',
  () => {
    let db: TestDatabase;
    let dir: string;
    const stores: PostgresStateStore[] = [];
    const servers: RunningServer[] = [];

    beforeAll(async () => {
      db = await createTestDatabase('airlock_live');
      dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-live-'));
      const key = path.join(dir, 'key');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vera', '-f', key]);
      const pub = readFileSync(`${key}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
      writeFileSync(path.join(dir, 'allowed_signers'), `vera ${pub}\n`);
      for (let i = 0; i < 2; i++) stores.push(await PostgresStateStore.open({ url: db.url }));
    });

    afterAll(async () => {
      for (const s of servers) await s.close(1000);
      for (const s of stores) await s.close();
      await db?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('a step written through one server’s store reaches a live client of the other at once, without polling', async () => {
      const [a, b] = stores as [PostgresStateStore, PostgresStateStore];
      const ctxA = contextOf(a, dir);
      const { token } = await createToken(ctxA, {
        principal: 'vera',
        role: 'viewer',
        ttlMs: HOUR_MS,
      });
      for (const ctx of [ctxA, contextOf(b, dir)])
        servers.push(await startServer({ ctx, port: 0, host: '127.0.0.1', pollMs: HOUR_MS }));
      const run = await a.createRun({
        kind: 'deploy',
        environment: 'staging',
        releaseId: 'r1',
        actor: 'alice',
        pid: process.pid,
        host: os.hostname(),
        startedAt: new Date().toISOString(),
      });

      const response = await fetch(`${servers[1]?.url}/events/run/${run.id}`, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      });
      expect(response.status).toBe(200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const buffer = { text: '' };
      // The first snapshot: the run, no step yet.
      expect(await eventContaining(reader, buffer, `"id":${run.id}`)).toContain('"steps":[]');

      for (const [index, store] of [a, b].entries()) {
        const marker = `written-through-store-${index}`;
        const step: RunStep = {
          runId: run.id,
          index,
          name: 'check',
          title: `step ${index}`,
          status: 'running',
          startedAt: new Date().toISOString(),
          finishedAt: null,
          durationMs: null,
          message: marker,
          output: null,
        };
        const written = performance.now();
        await store.saveStep(step);
        const event = await eventContaining(reader, buffer, marker);
        // Polling could bring it only after an hour; the notice brings it within a moment.
        expect(performance.now() - written).toBeLessThan(2000);
        expect(event).toContain('event: run');
      }
      await reader.cancel();
    });
  },
  { timeout: 20_000 },
);
