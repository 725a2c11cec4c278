/**
 * The error family. Every failure Airlock reports is one of four kinds, each with a stable
 * `code` (callers branch on the code, never on message text) and a `hint` that says what to do
 * next, naming the command to run. Errors are rendered in exactly two places: the CLI reporter
 * and the HTTP server. (Every failure says what happened and what to do next: wrangler's UserError, Kamal's messages.)
 */

/** Stable error codes. Add new ones here; never rename one that has shipped. */
export type ErrorCode =
  // configuration
  | 'CONFIG_NOT_FOUND'
  | 'CONFIG_INVALID'
  /** A variable the configuration reads (`${NAME}`) is not set where a command needs it. */
  | 'CONFIG_VARIABLE_UNSET'
  | 'CONFIG_EXISTS'
  // usage
  | 'USAGE'
  /** `airlock ci init`: the project or configuration cannot run as generated (the hint is the fix). */
  | 'CI_PRECONDITION'
  | 'CONFIRMATION_REQUIRED'
  | 'NOT_A_GIT_REPO'
  | 'UNKNOWN_ENVIRONMENT'
  | 'UNKNOWN_SERVICE'
  // secrets (docs/secrets.md)
  | 'SECRET_VALUE_SHARED'
  | 'FINGERPRINT_KEY_WEAK'
  | 'SECRETS_FILE_EXISTS'
  | 'SECRETS_FILE_MISSING'
  | 'SECRETS_FILE_PLAINTEXT'
  | 'SECRETS_KEY_MISSING'
  | 'SECRETS_KEY_INVALID'
  | 'SECRETS_KEY_WRONG'
  | 'INFISICAL_AUTH_MISSING'
  | 'INFISICAL_UNREACHABLE'
  | 'INFISICAL_ERROR'
  | 'DOCTOR_FAILED'
  | 'RELEASE_NOT_FOUND'
  /** A release built on another machine whose files are not stored on this one (nor shared). */
  | 'RELEASE_NOT_STORED'
  | 'DEPLOYMENT_NOT_FOUND'
  | 'NOTHING_TO_PROMOTE'
  | 'NOTHING_TO_ROLL_BACK'
  | 'ROLLBACK_UNSAFE'
  // releases
  | 'BUILD_FAILED'
  | 'BUILD_OUTPUT_MISSING'
  | 'BUILD_LINK_OUTSIDE'
  | 'DIGEST_MISMATCH'
  | 'ARTIFACT_INCOMPLETE'
  | 'ARTIFACT_STORE_FAILED'
  // pipeline
  | 'LOCK_HELD'
  | 'LOCK_LOST'
  | 'AUDIT_ALTERED'
  | 'SUPERSEDED'
  | 'GATE_BLOCKED'
  | 'SELF_APPROVAL'
  | 'NOT_AN_APPROVER'
  | 'APPROVAL_NOT_ALLOWED'
  | 'APPROVAL_IDENTITY_REQUIRED'
  | 'SIGNATURE_REFUSED'
  | 'OIDC_TOKEN_REFUSED'
  | 'SIGNING_FAILED'
  | 'DEPLOYMENT_FAILED'
  | 'CHECKS_FAILED'
  | 'NOTHING_SERVING'
  | 'SERVING_MISMATCH'
  // migrations
  | 'MIGRATION_NAME_INVALID'
  | 'MIGRATION_DUPLICATE'
  | 'MIGRATION_GAP'
  | 'MIGRATION_LAYOUT_MISMATCH'
  | 'MIGRATION_UNSUPPORTED'
  | 'MIGRATION_CHECKSUM_MISMATCH'
  | 'MIGRATION_MISSING_FILE'
  | 'MIGRATION_FAILED'
  | 'MIGRATION_NOT_ON_PREVIOUS'
  | 'MIGRATION_ALREADY_APPLIED'
  | 'MIGRATION_LOCKED'
  | 'MIGRATION_DATABASE_UNREACHABLE'
  | 'DATABASE_CLAIMED'
  | 'STATE_IN_APPLICATION_DATABASE'
  | 'DATA_TARGET_REFUSED'
  | 'DATA_SCHEMA_MISMATCH'
  | 'DATA_SALT_UNSET'
  | 'DATA_COLUMN_UNCOVERED'
  | 'DATA_RULE_UNKNOWN_COLUMN'
  | 'DATA_SEED_REFUSED'
  | 'DATA_SEED_MISSING'
  | 'DATA_SEED_FAILED'
  | 'MIGRATION_INTEGRITY'
  | 'MIGRATION_SCRATCH_FAILED'
  | 'MIGRATION_DRIFT'
  | 'MIGRATION_ADOPT_SOURCE_NOT_FOUND'
  | 'MIGRATION_ADOPT_MISMATCH'
  // providers
  | 'GITHUB_AUTH'
  | 'GITHUB_API'
  | 'PROVIDER_UNAVAILABLE'
  | 'PROVIDER_CONFIG_INVALID'
  | 'PROVIDER_COMMAND_FAILED'
  | 'PROVIDER_AUTH'
  | 'HEALTH_TIMEOUT'
  | 'APP_EXITED'
  | 'PORT_IN_USE'
  | 'DEPLOY_ABORTED'
  | 'RUNTIME_ALREADY_RUNNING'
  // state
  | 'STATE_SCHEMA_TOO_NEW'
  | 'HOME_MOVE_NEEDED'
  | 'HOME_MOVE_CONFLICT'
  // anything else
  | 'INTERNAL'
  // migration lint
  | 'MIGRATION_LINT_UNAVAILABLE'
  | 'MIGRATION_LINT_FAILED';

export type ErrorKind = 'user' | 'config' | 'provider' | 'internal';

export interface AirlockErrorOptions {
  /** What to do next, ideally naming the command to run. */
  hint?: string;
  /** Machine-readable facts for `--json` output. Never put secrets here. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** Base of the family. Do not throw it directly; throw one of the four kinds. */
export abstract class AirlockError extends Error {
  abstract readonly kind: ErrorKind;
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: AirlockErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? {};
  }

  /** The one JSON shape errors take in `--json` output and HTTP responses. */
  toJSON(): SerializedError {
    return {
      kind: this.kind,
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(Object.keys(this.details).length ? { details: this.details } : {}),
    };
  }
}

export interface SerializedError {
  kind: ErrorKind;
  code: ErrorCode;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

/** The user asked for something that cannot be done as asked (bad flag, unknown release, lock held). */
export class UserError extends AirlockError {
  readonly kind = 'user' as const;
  override name = 'UserError';
}

/** A problem with a platform or the local runtime: a process that would not start, a port taken. */
export class ProviderError extends AirlockError {
  readonly kind = 'provider' as const;
  override name = 'ProviderError';
}

/** A bug or an unexpected fault inside Airlock. */
export class InternalError extends AirlockError {
  readonly kind = 'internal' as const;
  override name = 'InternalError';
}

/** One finding about a configuration file, positioned at `file:line:col`. */
export interface ConfigDiagnostic {
  severity: 'error' | 'warning';
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  col: number;
  /** Dotted path of the field, e.g. `environments.production.promotion.approval.required`. */
  path: string;
  /** What is wrong and what was expected. */
  message: string;
  /** How to fix it. */
  fix?: string;
}

/** Formats one diagnostic the way every Airlock config message looks. */
export function formatDiagnostic(d: ConfigDiagnostic): string {
  const where = `${d.file}:${d.line}:${d.col}`;
  const path = d.path ? `${d.path}: ` : '';
  const fix = d.fix ? ` Fix: ${d.fix}` : '';
  return `${where}: ${d.severity}: ${path}${d.message}${fix}`;
}

/**
 * The configuration file is missing or invalid, or a command names what it does not define
 * (`UNKNOWN_ENVIRONMENT`: an environment name on the command line). Carries every error
 * diagnostic found (none for a name on the command line). The CLI exits 2 for it.
 */
export class ConfigError extends AirlockError {
  readonly kind = 'config' as const;
  override name = 'ConfigError';
  readonly diagnostics: ConfigDiagnostic[];
  readonly title: string | undefined;

  constructor(
    code: 'CONFIG_INVALID' | 'CONFIG_NOT_FOUND' | 'CONFIG_VARIABLE_UNSET' | 'UNKNOWN_ENVIRONMENT',
    diagnostics: ConfigDiagnostic[],
    options: AirlockErrorOptions & {
      /** The heading the CLI shows above the diagnostics (default: "Invalid configuration:"). */
      title?: string;
      /**
       * The message when no diagnostic applies (`diagnostics` empty): a file that does not exist
       * has no line to point at. The CLI shows it alone, as any other error.
       */
      message?: string;
    } = {},
  ) {
    const first = diagnostics[0];
    const summary =
      diagnostics.length === 0 && options.message
        ? options.message
        : diagnostics.length === 1 && first
          ? formatDiagnostic(first)
          : `${diagnostics.length} problems in ${first?.file ?? 'the configuration'}:\n${diagnostics
              .map((d) => `  ${formatDiagnostic(d)}`)
              .join('\n')}`;
    const { title, message: _message, ...rest } = options;
    super(code, summary, {
      ...rest,
      details: { ...options.details, diagnostics },
    });
    this.diagnostics = diagnostics;
    this.title = title;
  }
}

/** Wraps anything thrown into the family, so callers only ever see an AirlockError. */
export function toAirlockError(error: unknown): AirlockError {
  if (error instanceof AirlockError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new InternalError('INTERNAL', message, {
    cause: error,
    hint: 'This is a bug in Airlock. Re-run with --verbose for the stack trace and report it.',
  });
}

/** True for an error of the family with the given code. */
export function hasCode(error: unknown, code: ErrorCode): boolean {
  return error instanceof AirlockError && error.code === code;
}
