/**
 * The Postgres state store's own errors: a server that cannot be reached is named by its URL
 * with the password masked (src/secrets/redact.ts), never with the password.
 */
import { describe, expect, it } from 'vitest';
import { AirlockError } from '../../src/errors.ts';
import { PostgresStateStore } from '../../src/state/postgres-state-store.ts';

describe('PostgresStateStore.open', () => {
  it('names an unreachable server by its URL with the password masked', async () => {
    const password = 'st4te-pa55word';
    const error = await PostgresStateStore.open({
      url: `postgres://airlock:${password}@127.0.0.1:1/airlock?password=${password}`,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AirlockError);
    const e = error as AirlockError;
    expect(e.code).toBe('PROVIDER_UNAVAILABLE');
    expect(e.message).toContain('postgres://airlock:***@127.0.0.1:1/airlock?password=***');
    expect(JSON.stringify(e.toJSON())).not.toContain(password);
    expect(e.message).not.toContain(password);
  });
});
