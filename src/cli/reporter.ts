/**
 * The only writer to the terminal. Renders pipeline events as a live task list with per-step
 * timing (redrawn in place on a terminal, one line per step otherwise), tables, gates and
 * errors; with `--json` it prints exactly one object on stdout at the end, errors included.
 * Honours NO_COLOR (through `util.styleText`).
 */
import { createRequire } from 'node:module';
import { styleText } from 'node:util';
import type { createLogUpdate as CreateLogUpdate } from 'log-update';
import { type AirlockError, ConfigError, formatDiagnostic } from '../errors.ts';
import type { GateResult } from '../gates/gate.ts';
import type { PipelineEvent, ProgressSink } from '../pipeline/events.ts';
import type { Plan } from '../pipeline/plan.ts';
import { releaseDigestLabel } from '../releases/digest-label.ts';
import { SecretMask } from '../secrets/known-secrets.ts';
import type { StepStatus } from '../state/state-store.ts';

type Style = Parameters<typeof styleText>[0];

const require = createRequire(import.meta.url);

export interface ReporterOptions {
  json: boolean;
  verbose: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  /** Redraw progress in place. Default: stdout is a TTY and CI is not set. */
  live?: boolean;
}

interface StepLine {
  name: string;
  title: string;
  when: 'on-success' | 'on-failure';
  status: StepStatus;
  startedAt: number;
  durationMs: number;
  message: string | null;
  progress: string | null;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** `12 ms`, `1.4 s`, `2 m 03 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m} m ${String(s).padStart(2, '0')} s`;
}

/** `3 minutes ago` style, for status tables. */
export function formatAge(iso: string | null, now: Date): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

/** `stream` whose `write` masks text chunks with `mask` (everything else passes through). */
function maskedStream(stream: NodeJS.WriteStream, mask: SecretMask): NodeJS.WriteStream {
  return new Proxy(stream, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (property === 'write')
        return (chunk: unknown, ...rest: unknown[]) =>
          (target.write as (...a: unknown[]) => boolean)(
            typeof chunk === 'string' && mask.size > 0 ? mask.text(chunk) : chunk,
            ...rest,
          );
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export class Reporter implements ProgressSink {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly #out: NodeJS.WriteStream;
  readonly #err: NodeJS.WriteStream;
  readonly #live: boolean;
  #result: Record<string, unknown> = {};
  #steps: StepLine[] = [];
  #runTitle = '';
  #spinner: NodeJS.Timeout | undefined;
  #frame = 0;
  #logUpdate: ReturnType<typeof CreateLogUpdate> | undefined;
  /** Loaded by `ready()` only when progress is drawn live (keeps every command's start fast). */
  #createLogUpdate: typeof CreateLogUpdate | undefined;

  /**
   * The secrets this command knows (the session adds them): everything written to stdout and
   * stderr, the live view and the `--json` object included, is masked with it.
   */
  readonly mask = new SecretMask();

  constructor(options: ReporterOptions) {
    this.json = options.json;
    this.verbose = options.verbose;
    this.#out = maskedStream(options.stdout ?? process.stdout, this.mask);
    this.#err = maskedStream(options.stderr ?? process.stderr, this.mask);
    this.#live = options.live ?? (Boolean(this.#out.isTTY) && !process.env.CI && !this.json);
  }

  /** Loads what live rendering needs. Call once before the command runs. */
  async ready(): Promise<void> {
    if (this.#live && !this.#createLogUpdate) {
      this.#createLogUpdate = (await import('log-update')).createLogUpdate;
    }
  }

  #style(format: Style, text: string): string {
    return styleText(format, text, { stream: this.#out });
  }

  #write(text: string): void {
    if (this.json) return;
    this.#out.write(`${text}\n`);
  }

  // ------------------------------------------------------------------ plain output

  heading(text: string): void {
    this.#write(`\n${this.#style('bold', text)}`);
  }

  info(text: string): void {
    this.#write(text);
  }

  success(text: string): void {
    this.#write(`${this.#style('green', '✔')} ${text}`);
  }

  warn(text: string): void {
    if (this.json) return;
    this.#err.write(`${styleText('yellow', '⚠', { stream: this.#err })} ${text}\n`);
  }

  note(text: string): void {
    this.#write(this.#style('dim', text));
  }

  /**
   * Writes a machine-readable document (a SARIF log, GitHub annotations) to stdout as is, with
   * a final newline. Not with `--json`, whose one object is the only thing on stdout.
   */
  document(text: string): void {
    if (this.json) return;
    this.#out.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** A line for people while stdout carries a document: on stderr, dimmed. */
  aside(text: string): void {
    if (this.json) return;
    this.#err.write(`${styleText('dim', text, { stream: this.#err })}\n`);
  }

  /** A table with a header row; `null` cells print as `—`. */
  table(head: string[], rows: Array<Array<string | number | null>>): void {
    if (this.json) return;
    const Table = require('cli-table3') as typeof import('cli-table3');
    const table = new Table({
      head: head.map((h) => this.#style('bold', h)),
      chars: {
        top: '',
        'top-mid': '',
        'top-left': '',
        'top-right': '',
        bottom: '',
        'bottom-mid': '',
        'bottom-left': '',
        'bottom-right': '',
        left: '  ',
        'left-mid': '',
        mid: '',
        'mid-mid': '',
        right: '',
        'right-mid': '',
        middle: '  ',
      },
      style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    });
    for (const row of rows) table.push(row.map((c) => (c === null ? '—' : String(c))));
    this.#write(table.toString());
  }

  gates(results: GateResult[]): void {
    for (const g of results) {
      const mark =
        g.status === 'holds'
          ? this.#style('green', '✔')
          : g.status === 'pending'
            ? this.#style('yellow', '…')
            : this.#style('red', '✖');
      this.#write(`  ${mark} ${g.gate.padEnd(10)} ${g.reason}`);
      if (g.status !== 'holds' && g.next)
        this.#write(this.#style('dim', `               → ${g.next}`));
    }
  }

  plan(plan: Plan): void {
    const verb =
      plan.action === 'promote'
        ? `Promote ${plan.release.id} from ${plan.previous}`
        : plan.action === 'rollback'
          ? `Roll back to ${plan.release.id}`
          : `Deploy ${plan.release.id}`;
    this.#write(
      `${this.#style('bold', `${verb} → ${plan.environment}`)}  ${this.#style('dim', `(${plan.release.commit.slice(0, 7)} ${plan.release.subject}; ${releaseDigestLabel(plan.release.digest)}; ${plan.environment} serves ${plan.current ?? 'nothing yet'})`)}`,
    );
    if (plan.gates.length > 0) {
      this.#write('Gate:');
      this.gates(plan.gates);
    }
    this.#write('Steps:');
    for (const s of plan.steps) {
      this.#write(
        `  ${s.when === 'on-failure' ? this.#style('dim', `if a step fails: ${s.title}`) : `• ${s.title}`}`,
      );
    }
    for (const n of plan.notes) this.#write(`ℹ ${n}`);
    for (const w of plan.warnings) this.warn(w);
    this.#write(
      plan.blocked
        ? this.#style('red', `Blocked: ${plan.action} would be refused until every gate holds.`)
        : this.#style('green', 'Every gate holds.'),
    );
  }

  // ------------------------------------------------------------------ live progress

  emit(event: PipelineEvent): void {
    if (this.json) return;
    switch (event.type) {
      case 'run.started':
        this.#runTitle = event.title;
        this.#steps = event.steps.map((s) => ({
          ...s,
          status: 'pending',
          startedAt: 0,
          durationMs: 0,
          message: null,
          progress: null,
        }));
        if (this.#live && this.#createLogUpdate) {
          this.#logUpdate = this.#createLogUpdate(this.#out, { showCursor: false });
          this.#spinner = setInterval(() => {
            this.#frame += 1;
            this.#redraw();
          }, 80);
          this.#spinner.unref();
          this.#redraw();
        }
        return;
      case 'step.started': {
        const step = this.#find(event.step);
        if (!step) return;
        step.status = 'running';
        step.startedAt = performance.now();
        if (this.#live) this.#redraw();
        else this.#write(`  ${this.#style('cyan', '▸')} ${step.title}`);
        return;
      }
      case 'step.progress': {
        const step = this.#find(event.step);
        if (!step) return;
        step.progress = event.message;
        if (this.#live) this.#redraw();
        else if (this.verbose) this.#write(this.#style('dim', `    ${event.message}`));
        return;
      }
      case 'step.finished': {
        const step = this.#find(event.step);
        if (!step) return;
        step.status = event.status;
        step.durationMs = event.durationMs;
        step.message = event.message;
        step.progress = null;
        if (this.#live) this.#redraw();
        else if (this.#shown(step)) this.#write(this.#line(step));
        return;
      }
      case 'run.finished':
        if (this.#live) {
          clearInterval(this.#spinner);
          this.#redraw();
          this.#logUpdate?.done();
          this.#logUpdate = undefined;
        }
        return;
    }
  }

  #find(name: string): StepLine | undefined {
    return this.#steps.find((s) => s.name === name);
  }

  /** Skipped on-failure steps of a run that did not fail are noise. */
  #shown(step: StepLine): boolean {
    return !(
      step.when === 'on-failure' &&
      step.status === 'skipped' &&
      step.message === 'not needed'
    );
  }

  #line(step: StepLine): string {
    const marks: Record<StepStatus, string> = {
      pending: this.#style('dim', '◻'),
      running: this.#style('cyan', SPINNER[this.#frame % SPINNER.length] as string),
      succeeded: this.#style('green', '✔'),
      failed: this.#style('red', '✖'),
      errored: this.#style('red', '✖'),
      skipped: this.#style('dim', '↓'),
    };
    const time =
      step.status === 'running'
        ? this.#style('dim', ` ${formatDuration(performance.now() - step.startedAt)}`)
        : step.status === 'pending' || step.status === 'skipped'
          ? ''
          : this.#style('dim', ` [${formatDuration(step.durationMs)}]`);
    const detail = step.status === 'running' ? step.progress : step.message;
    const text = detail
      ? ` ${this.#style(step.status === 'failed' || step.status === 'errored' ? 'red' : 'dim', `— ${detail}`)}`
      : '';
    const title = step.when === 'on-failure' ? `${step.title} (on failure)` : step.title;
    return `  ${marks[step.status]} ${title}${time}${text}`;
  }

  #redraw(): void {
    this.#logUpdate?.(
      [
        this.#style('bold', this.#runTitle),
        ...this.#steps
          .filter((s) => this.#shown(s) || s.status !== 'skipped')
          .map((s) => this.#line(s)),
      ].join('\n'),
    );
  }

  // ------------------------------------------------------------------ results and errors

  /** Adds fields to the one `--json` object. */
  result(fields: Record<string, unknown>): void {
    Object.assign(this.#result, fields);
  }

  /** Renders an error: message, positioned diagnostics, the hint; the stack only with --verbose. */
  error(error: AirlockError): void {
    if (this.json) {
      this.#result = { ...this.#result, ok: false, error: error.toJSON() };
      return;
    }
    const red = (t: string) => styleText('red', t, { stream: this.#err });
    const dim = (t: string) => styleText('dim', t, { stream: this.#err });
    if (error instanceof ConfigError && error.diagnostics.length > 0) {
      this.#err.write(
        `${red('✖')} ${error.title ?? (error.diagnostics.length === 1 ? 'Invalid configuration:' : `${error.diagnostics.length} problems in the configuration:`)}\n`,
      );
      for (const d of error.diagnostics) this.#err.write(`  ${formatDiagnostic(d)}\n`);
    } else {
      this.#err.write(`${red('✖')} ${error.message}\n`);
    }
    if (error.hint) this.#err.write(`  ${dim('→')} ${error.hint}\n`);
    if (this.verbose) {
      this.#err.write(dim(`  [${error.kind} ${error.code}]\n`));
      const cause = error.cause instanceof Error ? error.cause : error;
      if (cause.stack) this.#err.write(dim(`${cause.stack}\n`));
    }
  }

  /** Prints the `--json` object (once, at the end). */
  flush(ok: boolean): void {
    if (!this.json) return;
    const body = 'ok' in this.#result ? this.#result : { ok, ...this.#result };
    this.#out.write(`${JSON.stringify(body, null, 2)}\n`);
  }
}
