/**
 * The clean release of a commit: what a clean build reuses. A dirty build of the same commit
 * (uncommitted changes on top of it) never stands in for it, whichever came last.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { NewRelease, StateStore } from '../../src/state/state-store.ts';
import { stateImplementations } from '../helpers/state-implementations.ts';

const digest = (c: string) => c.repeat(64).slice(0, 64);
const commit = (c: string) => c.repeat(40).slice(0, 40);

function newRelease(overrides: Partial<NewRelease> = {}): NewRelease {
  return {
    digest: digest('a'),
    commit: commit('1'),
    dirty: false,
    subject: 'first',
    createdAt: '2026-11-21T10:00:00.000Z',
    createdBy: 'dev@example.com',
    buildMs: 120,
    services: {
      web: { digest: digest('b'), bytes: 10, files: 1, migrationsDigest: null, migrations: [] },
    },
    ...overrides,
  };
}

for (const impl of stateImplementations) {
  impl.describe(`the clean release of a commit: ${impl.name}`, () => {
    let store: StateStore;
    let cleanup: () => void | Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await impl.open());
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    it('is the newest release of that commit built without uncommitted changes', async () => {
      expect(await store.findCleanRelease(commit('1'))).toBeUndefined();
      await store.insertRelease(newRelease({ dirty: true, digest: digest('c') }));
      expect(await store.findCleanRelease(commit('1'))).toBeUndefined();

      await store.insertRelease(newRelease()); // r2: clean
      await store.insertRelease(newRelease({ digest: digest('d') })); // r3: clean, rebuilt
      await store.insertRelease(newRelease({ dirty: true, digest: digest('e') })); // r4: dirty
      await store.insertRelease(newRelease({ commit: commit('2'), digest: digest('f') })); // r5
      expect((await store.findCleanRelease(commit('1')))?.id).toBe('r3');
      expect((await store.findCleanRelease(commit('2')))?.id).toBe('r5');
      // The full sha only: a prefix is a reference to resolve first, not a commit.
      expect(await store.findCleanRelease(commit('1').slice(0, 7))).toBeUndefined();
    });
  });
}
