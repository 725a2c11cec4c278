/**
 * The command check: runs an E2E suite or a script against the live environment with
 * `BASE_URL` set; exit code 0 passes ("smoke/E2E against the live staging URL",
 * "deploy staging → migrate → smoke").
 */

import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { childEnvironment } from '../process/child-env.ts';
import { runShell } from '../process/shell.ts';
import type { CheckContext, CheckResult, CommandCheckSpec } from './check.ts';

/** Lines of output kept in `details.outputTail`. */
export const OUTPUT_TAIL_LINES = 20;
/** Characters of output kept while the command runs (enough for the tail). */
const OUTPUT_KEEP_CHARS = 64 * 1024;
/** After SIGTERM on timeout, SIGKILL the group after this long (ms). */
const KILL_GRACE_MS = 2000;
/** Characters of the output line a failure message quotes. */
const SUMMARY_CHARS = 160;

/** The variables a command check sees on top of the least environment and `spec.env`. */
export function commandCheckEnv(ctx: CheckContext): Record<string, string> {
  return {
    BASE_URL: ctx.baseUrl,
    ...(ctx.databaseUrl ? { DATABASE_URL: ctx.databaseUrl } : {}),
    AIRLOCK_ENV: ctx.environment,
    AIRLOCK_RELEASE: ctx.release.id,
    AIRLOCK_COMMIT: ctx.release.commit,
    AIRLOCK_SERVICE: ctx.service,
  };
}

/**
 * Runs `spec.run` with `/bin/sh -c` in `ctx.serviceRoot` (joined with `spec.cwd` when set),
 * environment = the least environment of `process/child-env.ts` (PATH, HOME, locale, proxies;
 * never another environment's credentials) + the environment's `DATABASE_URL` + `spec.env` (its `${NAME}`
 * references already read) + `BASE_URL`, `AIRLOCK_ENV`, `AIRLOCK_RELEASE`, `AIRLOCK_COMMIT`,
 * `AIRLOCK_SERVICE` (later wins; a `spec.env.DATABASE_URL` overrides the environment's). The
 * shell expands `${NAME}` in `spec.run` from that environment. `ctx.secrets` are masked in
 * the output kept and the message. The command gets its own process group;
 * after `spec.timeoutMs` (or when `ctx.signal` aborts) the whole group gets SIGTERM, then
 * SIGKILL 2 s later. When the shell exits, anything it left running in its group is killed too,
 * so a check never leaks processes. Never throws.
 *
 * @returns passed on exit code 0; a failure's message quotes the output line that says why
 *   ({@link failureLine}, not the package manager's `ELIFECYCLE` line); `details.exitCode`
 *   (null when killed), `details.signal`, `details.timedOut`, `details.outputTail` (last 20
 *   lines of stdout and stderr interleaved, secrets masked).
 */
export async function runCommandCheck(
  spec: CommandCheckSpec,
  ctx: CheckContext,
): Promise<CheckResult> {
  const started = performance.now();
  const cwd = spec.cwd ? resolve(ctx.serviceRoot, spec.cwd) : ctx.serviceRoot;
  const { DATABASE_URL: databaseUrl, ...airlockEnv } = commandCheckEnv(ctx);
  const env = childEnvironment(
    process.env,
    databaseUrl ? { DATABASE_URL: databaseUrl } : undefined,
    spec.env,
    airlockEnv,
  );
  if (!statSync(cwd, { throwIfNoEntry: false })?.isDirectory()) {
    return {
      name: spec.name,
      type: 'command',
      status: 'failed',
      durationMs: 0,
      attempts: 1,
      message: `\`${spec.run}\` could not start: the directory ${cwd} does not exist`,
      details: { cwd, exitCode: null, signal: null, timedOut: false, outputTail: '' },
    };
  }
  // runShell owns the process group, the timeout, the abort and the cleanup of leftovers.
  const outcome = await runShell(spec.run, {
    cwd,
    env,
    timeoutMs: spec.timeoutMs,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    tailLines: OUTPUT_TAIL_LINES,
    keepOutput: OUTPUT_KEEP_CHARS,
    killGraceMs: KILL_GRACE_MS,
    scrub: [...(ctx.secrets ?? []), ...(databaseUrl ? [databaseUrl] : [])],
  });
  const durationMs = Math.round(performance.now() - started);
  const lines = outcome.output.replace(/\s+$/, '').split(/\r?\n/);
  const outputTail = lines.slice(-OUTPUT_TAIL_LINES).join('\n');
  const lastLine = failureLine(lines);
  const passed =
    outcome.exitCode === 0 && !outcome.timedOut && !outcome.aborted && !outcome.spawnError;
  const command = `\`${spec.run}\``;
  let message: string;
  if (outcome.spawnError) message = `${command} could not start in ${cwd}: ${outcome.spawnError}`;
  else if (outcome.timedOut)
    message = `${command} timed out after ${spec.timeoutMs} ms and was killed`;
  else if (outcome.aborted) message = `${command} cancelled`;
  else if (passed) message = `${command} passed in ${(durationMs / 1000).toFixed(1)} s`;
  else {
    const how =
      outcome.exitCode === null ? `was killed by ${outcome.signal}` : `exited ${outcome.exitCode}`;
    message = `${command} ${how}${lastLine ? `: ${truncate(lastLine, SUMMARY_CHARS)}` : ''}`;
  }
  return {
    name: spec.name,
    type: 'command',
    status: passed ? 'passed' : 'failed',
    durationMs,
    attempts: 1,
    message,
    details: {
      cwd,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      timedOut: outcome.timedOut,
      outputTail,
      ...(outcome.aborted ? { cancelled: true } : {}),
    },
  };
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/**
 * What a package manager or Node prints around a failing script, saying nothing about why it
 * failed: the script banner (`> pkg@1.0.0 e2e`, `> node e2e.mjs`, yarn's `$ node e2e.mjs`),
 * pnpm's `ELIFECYCLE` and `ERR_PNPM_*` lines, npm's `npm ERR!`/`npm error` lines, yarn's
 * `error Command failed` and `info Visit …`, bun's `error: script "e2e" exited with code 1`,
 * `Exit status 1`, pnpm's `/path/to/package:` heading, stack frames, the caret under a
 * thrown line and Node's `Node.js v24.0.0` trailer.
 */
const NOISE = [
  /^\s*$/,
  /^\s*> /,
  /^\$ /,
  /^yarn run v\d/,
  /\bELIFECYCLE\b/,
  /\bERR_PNPM_/,
  /^npm (ERR!|error|warn|WARN|notice)(\s|$)/,
  /^error Command failed/,
  /^info Visit https:\/\/yarnpkg\.com\//,
  /^error: script ".*" exited with code/,
  /Command failed with exit code/,
  /^Exit status \d+$/,
  /^\/\S*:$/,
  /^\s+at /,
  /^\s*\^+\s*$/,
  /^Node\.js v\d/,
];
/** A line that only closes a bracket (the end of a logged object). */
const CLOSING = /^\s*[\]})]+[,;]?\s*$/;
/** A stack frame ending in `{`: Node logged an error with properties, one per line until `}`. */
const FRAME_WITH_PROPERTIES = /^\s+at .*\{\s*$/;
/** A package manager's own error line: its first one names the cause when the script printed nothing. */
const PACKAGE_MANAGER_ERROR = /^npm (ERR!|error) |\bERR_PNPM_|\bELIFECYCLE\b|^error /;

/**
 * The line of a failed command's output (stdout and stderr interleaved) that says why it failed:
 * the last one that is neither package-manager or Node noise ({@link NOISE}), nor part of an
 * error's logged properties (`code: 'ERR_ASSERTION',` … `}` after its stack), nor a lone closing
 * bracket. When every line is noise: the first package-manager error line (npm's
 * `npm error Missing script: "e2e"` comes before its boilerplate), else the last non-blank line.
 * Trimmed, without a trailing period (callers end their sentence themselves).
 */
function failureLine(lines: readonly string[]): string {
  const meaningful: boolean[] = [];
  let inProperties = false;
  for (const line of lines) {
    if (inProperties) {
      meaningful.push(false);
      if (CLOSING.test(line)) inProperties = false;
      continue;
    }
    inProperties = FRAME_WITH_PROPERTIES.test(line);
    meaningful.push(!CLOSING.test(line) && !NOISE.some((noise) => noise.test(line)));
  }
  const chosen =
    lines.findLast((_, i) => meaningful[i]) ??
    lines.find((l) => PACKAGE_MANAGER_ERROR.test(l.trim())) ??
    lines.findLast((l) => l.trim() !== '') ??
    '';
  return chosen
    .trim()
    .replace(/\s{2,}/g, ' ')
    .replace(/(?<!\.)\.$/, '');
}
