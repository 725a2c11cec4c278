/**
 * Every `StateStore` implementation, for specs looped over all of them (Kysely runs each test on
 * every dialect): SQLite in a temporary file, D1 through the FAKE D1 API, and Postgres in a database of its own
 * (`describeIfPostgres`: skipped without AIRLOCK_TEST_POSTGRES_URL; CI sets it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe } from 'vitest';
import { d1StateLocation } from '../../src/config/resolve-databases.ts';
import { openD1StateClient } from '../../src/providers/cloudflare/d1-state-client.ts';
import { openStateStore } from '../../src/state/open-state-store.ts';
import { PostgresStateStore } from '../../src/state/postgres-state-store.ts';
import { SqliteStateStore } from '../../src/state/sqlite-state-store.ts';
import type { StateStore } from '../../src/state/state-store.ts';
import { startFakeD1Api } from '../fakes/cloudflare/fake-d1-api.ts';
import { createTestDatabase, describeIfPostgres } from './postgres.ts';

export interface StateImplementation {
  name: string;
  /** `describe`, or `describeIfPostgres` for an engine that needs a server. */
  describe: (name: string, fn: () => void) => void;
  open(): Promise<{
    store: StateStore;
    cleanup(): void | Promise<void>;
    reopen(): Promise<StateStore>;
  }>;
}

export const stateImplementations: StateImplementation[] = [
  {
    name: 'sqlite',
    describe,
    async open() {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-state-'));
      const file = path.join(dir, 'state.db');
      return {
        store: await SqliteStateStore.open({ file }),
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
        reopen: () => SqliteStateStore.open({ file }),
      };
    },
  },
  {
    // FAKE D1 API: Cloudflare's HTTP envelope over a real SQLite file (test/fakes/cloudflare).
    name: 'd1',
    describe,
    async open() {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-state-d1-'));
      const api = await startFakeD1Api(dir);
      const location = d1StateLocation(`d1://${api.accountId}/${api.createDatabase()}`, {
        AIRLOCK_STATE_TOKEN: api.token,
        CLOUDFLARE_API_BASE_URL: api.baseUrl,
      });
      const open = () => openStateStore(location!, { d1Client: openD1StateClient });
      return {
        store: await open(),
        cleanup: async () => {
          await api.close();
          rmSync(dir, { recursive: true, force: true });
        },
        reopen: open,
      };
    },
  },
  {
    name: 'postgres',
    describe: describeIfPostgres,
    async open() {
      const db = await createTestDatabase('airlock_state');
      return {
        store: await PostgresStateStore.open({ url: db.url }),
        cleanup: () => db.drop(),
        reopen: () => PostgresStateStore.open({ url: db.url }),
      };
    },
  },
];
