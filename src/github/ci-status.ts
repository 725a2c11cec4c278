/**
 * CI state at one commit, combined from GitHub's two CI mechanisms: commit statuses (the
 * combined status of `GET /repos/{owner}/{repo}/commits/{ref}/status`) and check runs
 * (`GET /repos/{owner}/{repo}/commits/{ref}/check-runs`). Pure: `GitHubClient.ciStatus` fetches,
 * this decides. ("CI green at the exact commit being promoted".)
 */

/** `none`: nothing reported on the commit at all (and no context was required). */
export type CiState = 'success' | 'failure' | 'pending' | 'none';

/** The state of one status context or check run. */
export type CiContextState = 'success' | 'failure' | 'pending';

export interface CiContext {
  /** The status `context` or the check run `name`. */
  name: string;
  state: CiContextState;
  /** GitHub's own word: a status state (`error`, `pending`, …), a check conclusion (`timed_out`, …) or a check status (`in_progress`, …). */
  detail: string;
  /** Where to look: the status `target_url`, or the check run's `html_url`/`details_url`. */
  url: string | null;
  source: 'status' | 'check-run';
}

export interface CiStatusResult {
  /** The commit asked about. */
  sha: string;
  state: CiState;
  /** The contexts that count: all of them, or only the required ones when `required` is given. */
  contexts: CiContext[];
  /** Required names nothing reported yet (each makes the state `pending`). */
  missing: string[];
  /**
   * What a person needs to know, without the commit (the caller names it) and without a final
   * period: `3 checks passed: build, lint, test`, `test (in_progress); not reported yet: e2e`,
   * `e2e (timed_out), lint (failure)` (the failing ones), `no status or check run was reported`.
   */
  summary: string;
}

/** The fields of a commit status (`simple-commit-status`) this module reads. */
export interface CommitStatusFacts {
  context: string;
  state: string;
  target_url: string | null;
}

/** The fields of a check run (`check-run`) this module reads. */
export interface CheckRunFacts {
  id: number;
  name: string;
  status: string;
  conclusion: string | null;
  html_url: string | null;
  details_url: string | null;
  app: { id: number } | null;
}

/** Check conclusions that do not block (GitHub's branch protection accepts the same three). */
const PASSING_CONCLUSIONS = new Set(['success', 'neutral', 'skipped']);

/** A commit status: `success`, `pending`, or `failure`/`error` (both are failures). */
export function commitStatusState(state: string): CiContextState {
  if (state === 'success') return 'success';
  if (state === 'pending') return 'pending';
  return 'failure';
}

/**
 * A check run: until it is `completed` it is pending; then `success`, `neutral` and `skipped`
 * pass and every other conclusion (`failure`, `cancelled`, `timed_out`, `action_required`,
 * `stale`, …) fails.
 */
export function checkRunState(status: string, conclusion: string | null): CiContextState {
  if (status !== 'completed') return 'pending';
  return conclusion !== null && PASSING_CONCLUSIONS.has(conclusion) ? 'success' : 'failure';
}

const RANK: Record<CiContextState, number> = { success: 0, pending: 1, failure: 2 };

/** Failure beats pending beats success. */
export function worstState(states: Iterable<CiContextState>): CiContextState {
  let worst: CiContextState = 'success';
  for (const s of states) if (RANK[s] > RANK[worst]) worst = s;
  return worst;
}

function listNames(contexts: CiContext[]): string {
  return contexts
    .map((c) => (c.detail === c.state ? c.name : `${c.name} (${c.detail})`))
    .join(', ');
}

/**
 * The newest check run of each name per app: a re-run replaces the run it repeats. (Runs of the
 * same name from two apps both count.)
 */
export function latestCheckRuns<T extends CheckRunFacts>(runs: T[]): T[] {
  const latest = new Map<string, T>();
  for (const run of runs) {
    const key = `${run.app?.id ?? 0}\u0000${run.name}`;
    const seen = latest.get(key);
    if (!seen || run.id > seen.id) latest.set(key, run);
  }
  return [...latest.values()].sort((a, b) => a.id - b.id);
}

/**
 * Combines statuses and check runs into one state. With `required` (GitHub Environments'
 * `required_contexts`), only contexts of those names count, and a required name nothing
 * reported is pending. A name reported more than once (a status and a check run, or check runs
 * of two apps) counts with its worst state; a re-run check run replaces the earlier one.
 */
export function combineCiStatus(input: {
  sha: string;
  statuses: CommitStatusFacts[];
  checkRuns: CheckRunFacts[];
  required?: string[];
}): CiStatusResult {
  const all: CiContext[] = [
    ...input.statuses.map(
      (s): CiContext => ({
        name: s.context,
        state: commitStatusState(s.state),
        detail: s.state,
        url: s.target_url || null,
        source: 'status',
      }),
    ),
    ...latestCheckRuns(input.checkRuns).map(
      (r): CiContext => ({
        name: r.name,
        state: checkRunState(r.status, r.conclusion),
        detail: r.status === 'completed' ? (r.conclusion ?? 'completed') : r.status,
        url: r.html_url || r.details_url || null,
        source: 'check-run',
      }),
    ),
  ];
  const required = input.required ? [...new Set(input.required)] : null;
  const contexts = required ? all.filter((c) => required.includes(c.name)) : all;
  const missing = required ? required.filter((name) => !all.some((c) => c.name === name)) : [];
  if (contexts.length === 0 && missing.length === 0) {
    return {
      sha: input.sha,
      state: 'none',
      contexts,
      missing,
      summary: required ? 'no context is required' : 'no status or check run was reported',
    };
  }
  const state = worstState([
    ...contexts.map((c) => c.state),
    ...(missing.length > 0 ? ['pending' as const] : []),
  ]);
  let summary: string;
  if (state === 'failure') {
    summary = listNames(contexts.filter((c) => c.state === 'failure'));
  } else if (state === 'pending') {
    const pending = contexts.filter((c) => c.state === 'pending');
    summary = [
      ...(pending.length ? [listNames(pending)] : []),
      ...(missing.length ? [`not reported yet: ${missing.join(', ')}`] : []),
    ].join('; ');
  } else {
    const names = [...new Set(contexts.map((c) => c.name))];
    summary = `${names.length} ${required ? 'required ' : ''}check${names.length === 1 ? '' : 's'} passed: ${names.join(', ')}`;
  }
  return { sha: input.sha, state, contexts, missing, summary };
}
