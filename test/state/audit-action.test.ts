/**
 * The closed list of audit actions and docs/audit.md describe the same actions, and every
 * action belongs to the group it is listed under.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AUDIT_ACTION_GROUPS, AUDIT_ACTIONS } from '../../src/state/audit-action.ts';

const doc = readFileSync(new URL('../../docs/audit.md', import.meta.url), 'utf8');

describe('audit actions', () => {
  it('docs/audit.md has one table row per listed action, in the same order, and no other', () => {
    const documented = [...doc.matchAll(/^\| `([a-z]+\.[a-z_-]+)` \|/gm)].map((m) => m[1]);
    expect(documented).toEqual([...AUDIT_ACTIONS]);
  });

  it('names every action after its group, once', () => {
    for (const [group, actions] of Object.entries(AUDIT_ACTION_GROUPS))
      for (const action of actions) expect(action.startsWith(`${group}.`), action).toBe(true);
    expect(new Set(AUDIT_ACTIONS).size).toBe(AUDIT_ACTIONS.length);
  });
});
