/**
 * Loading `airlock.yaml`: find it, parse the YAML keeping positions, validate against the
 * schema, apply the rules, resolve environments. Every problem becomes a `ConfigError` whose
 * diagnostics name `file:line:col`, the dotted path, what was expected and the fix.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { type ConfigDiagnostic, ConfigError } from '../errors.ts';
import type { SecretString } from '../secrets/secret-strings.ts';
import {
  type CacheSlot,
  cacheSlot,
  locateConfig,
  resolveCachedConfig,
  storeValidatedConfig,
} from './config-cache.ts';
import { issuesToFindings, type SourceMap, toDiagnostic } from './diagnostics.ts';
import { literalSecretWarnings } from './literal-secrets.ts';
import { checkPaths } from './path-rules.ts';
import { type ResolvedConfig, resolveConfig } from './resolve.ts';
import { checkRules } from './rules.ts';
import { configSchema } from './schema.ts';
import { badIndentation, continuedValue } from './yaml-indentation.ts';

export { CONFIG_FILE_NAMES, findConfigFile } from './config-cache.ts';

const YAML_FIXES: Record<string, string> = {
  DUPLICATE_KEY: 'remove one of the two entries with this key.',
  BAD_INDENT:
    'YAML nests by indentation, with spaces (never tabs): indent the keys of one mapping to the same column, and nested ones deeper.',
  TAB_AS_INDENT: 'indent with spaces, not tabs.',
  MISSING_CHAR: 'close the bracket or quote that was opened.',
  MULTILINE_IMPLICIT_KEY: 'put a key and its value on one line, or quote the key.',
  BLOCK_AS_IMPLICIT_KEY:
    'check the indentation of this line and the ones around it: YAML nests by indentation, with spaces (never tabs).',
};

/** Wording of a YAML syntax error: the parser's sentence, made specific where it is vague. */
function yamlProblem(
  code: string,
  parserMessage: string,
  rest: string,
  before = '',
): { message: string; fix: string } {
  if (before.endsWith('$') && rest.startsWith('{')) {
    return {
      message: 'invalid YAML: `${…}` inside a `{ … }` mapping starts another mapping.',
      fix: 'quote the value, e.g. `databaseUrl: "${STAGING_DATABASE_URL}"`, or write the mapping as an indented block.',
    };
  }
  if (code === 'DUPLICATE_KEY') {
    const key = /^("[^"]*"|'[^']*'|[^:\n]+?)\s*:/.exec(rest)?.[1];
    if (key) {
      return {
        message: `invalid YAML: the key ${key.startsWith('"') ? key : `"${key.replace(/^'|'$/g, '')}"`} appears twice in the same mapping.`,
        fix: 'keep one of the two entries and delete the other (YAML keys must be unique).',
      };
    }
  }
  const message = `invalid YAML: ${parserMessage}${/[.!?]$/.test(parserMessage) ? '' : '.'}`;
  // "Flow sequence in block collection must be ... end with a ]": an unclosed [ or {.
  const closer = /end with an? ([\]}])$/.exec(parserMessage)?.[1];
  if (closer) {
    return {
      message,
      fix: `close the ${closer === ']' ? '[ list' : '{ mapping'} opened above with "${closer}" on the same line, or write it as an indented block.`,
    };
  }
  return { message, fix: YAML_FIXES[code] ?? 'fix the YAML syntax at this position.' };
}

/**
 * Parses and validates the text of an airlock.yaml.
 * @param file absolute path (used to resolve relative paths); @param displayFile name for messages.
 * @param secrets the text's secret-looking strings (`findSecretStrings`), each a warning at its
 *   field (`loadCheckedConfig` finds them; the scan is asynchronous).
 * @throws ConfigError `CONFIG_INVALID` with every error found (warnings are returned on success).
 */
export function parseConfig(
  text: string,
  file: string,
  displayFile = file,
  env: Readonly<Record<string, string | undefined>> = {},
  slot: CacheSlot | null = null,
  secrets: readonly SecretString[] = [],
): ResolvedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const source: SourceMap = { file: displayFile, doc, lineCounter };

  if (doc.errors.length > 0) {
    // An unquoted ${VAR} in a { … } mapping makes the parser report a cascade: say it once, at the $.
    const envRef = doc.errors.find((e) => text[e.pos[0] - 1] === '$' && text[e.pos[0]] === '{');
    // A tab in the indentation makes the parser report the lines after it too: say it alone.
    const tabs = doc.errors.filter((e) => e.code === 'TAB_AS_INDENT');
    // An indentation mistake: point at the line that is off, and the lines it fails to match.
    const indentationOf = (e: (typeof doc.errors)[number]) =>
      e.code === 'BAD_INDENT'
        ? badIndentation(text, e.pos[0])
        : e.code === 'BLOCK_AS_IMPLICIT_KEY' || e.code === 'MULTILINE_IMPLICIT_KEY'
          ? continuedValue(text, e.pos[0])
          : null;
    // One line indented wrong makes the parser stumble on the lines after it too: say it alone.
    const indentation =
      envRef || tabs.length > 0 ? null : doc.errors.map(indentationOf).find(Boolean);
    const errors = envRef ? [envRef] : tabs.length > 0 ? tabs : indentation ? [] : doc.errors;
    const diagnostics: ConfigDiagnostic[] = indentation
      ? [{ severity: 'error', file: displayFile, path: '', ...indentation }]
      : errors.map((e): ConfigDiagnostic => {
          const pos =
            e === envRef
              ? lineCounter.linePos(e.pos[0] - 1)
              : (e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]));
          return {
            severity: 'error',
            file: displayFile,
            line: pos.line,
            col: pos.col,
            path: '',
            ...yamlProblem(
              e.code,
              e.message.split('\n')[0] ?? '',
              text.slice(e.pos[0]),
              text.slice(0, e.pos[0]),
            ),
          };
        });
    throw new ConfigError('CONFIG_INVALID', diagnostics, {
      hint: `Fix the YAML in ${displayFile}, then run \`airlock config validate\`.`,
    });
  }

  const data: unknown = doc.toJS({ maxAliasCount: 100 }) ?? undefined;
  if (data === undefined || data === null) {
    throw invalid(
      [
        {
          severity: 'error',
          file: displayFile,
          line: 1,
          col: 1,
          path: '',
          message:
            'the file is empty: expected a mapping with project, pipeline, services and environments.',
          fix: 'start from the complete example at the top of docs/configuration.md.',
        },
      ],
      displayFile,
    );
  }
  const parsed = configSchema.safeParse(data);
  if (!parsed.success) {
    const findings = issuesToFindings(configSchema, parsed.error.issues, data);
    throw invalid(
      findings.map((f) => toDiagnostic(source, f)),
      displayFile,
    );
  }
  const rules = checkRules(parsed.data);
  const paths = checkPaths(parsed.data, path.dirname(file));
  const findings = [
    ...[...rules, ...paths].map((f) => toDiagnostic(source, f)),
    ...literalSecretWarnings(displayFile, doc, secrets),
  ];
  const errors = findings.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw invalid(errors, displayFile);
  // The cache keeps what the text alone decides (see config-cache.ts); resolution changes nothing
  // of `parsed.data` before this.
  if (paths.length === 0) storeValidatedConfig(slot, parsed.data, findings);
  const { resolved, findings: resolution } = resolveConfig(parsed.data, {
    file,
    displayFile,
    warnings: findings.filter((d) => d.severity === 'warning'),
    env,
  });
  // Resolution warnings (e.g. an unset notification webhook variable) do not stop a command.
  for (const f of resolution) f.deferred?.(toDiagnostic(source, f));
  const resolutionErrors = resolution.filter((f) => f.severity === 'error' && !f.deferred);
  if (resolutionErrors.length > 0)
    throw invalid(
      resolutionErrors.map((f) => toDiagnostic(source, f)),
      displayFile,
    );
  resolved.warnings.push(
    ...resolution.filter((f) => f.severity === 'warning').map((f) => toDiagnostic(source, f)),
  );
  return resolved;
}

function invalid(diagnostics: ConfigDiagnostic[], displayFile: string): ConfigError {
  diagnostics.sort((a, b) => a.line - b.line || a.col - b.col);
  return new ConfigError('CONFIG_INVALID', diagnostics, {
    hint: `Fix ${displayFile}, then run \`airlock config validate\`. The reference is docs/configuration.md.`,
  });
}

export interface LoadConfigOptions {
  /** Working directory: where to look for airlock.yaml, and what messages are relative to. */
  cwd: string;
  /** Explicit path (`-c/--config`). */
  file?: string;
  /** Environment for `${NAME}` references and AIRLOCK_STATE_URL (the CLI passes process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Use and fill the cache of validated files (config-cache.ts): the CLI does, through
   * `loadCachedConfig` first so that a hit loads neither yaml nor zod.
   */
  cache?: boolean;
}

/**
 * Finds, reads and validates airlock.yaml.
 * @throws ConfigError `CONFIG_NOT_FOUND` or `CONFIG_INVALID`.
 */
export function loadConfig(options: LoadConfigOptions): ResolvedConfig {
  const located = locateConfig(options);
  const text = readFileSync(located.file, 'utf8');
  const env = options.env ?? {};
  const slot = options.cache ? cacheSlot(located, text, env) : null;
  return (
    resolveCachedConfig(located, slot, env) ??
    parseConfig(text, located.file, located.displayFile, env, slot)
  );
}

/**
 * `loadConfig`, and the check the schema cannot make: secret-looking strings written into the
 * file (a password in a `databaseUrl`), found as `airlock doctor` finds them and reported as
 * warnings at their line and field. The scan runs on a full validation only; the cache of
 * validated files keeps its warnings with the rest, so a command that hits it still reports them.
 * @throws ConfigError `CONFIG_NOT_FOUND` or `CONFIG_INVALID`.
 */
export async function loadCheckedConfig(options: LoadConfigOptions): Promise<ResolvedConfig> {
  const located = locateConfig(options);
  const text = readFileSync(located.file, 'utf8');
  const env = options.env ?? {};
  const slot = options.cache ? cacheSlot(located, text, env) : null;
  const cached = resolveCachedConfig(located, slot, env);
  if (cached) return cached;
  let secrets: SecretString[] = [];
  try {
    const { findSecretStrings } = await import('../secrets/secret-strings.ts');
    secrets = await findSecretStrings(located.file, text);
  } catch {
    // A scanner that fails costs only these warnings, never the command.
  }
  return parseConfig(text, located.file, located.displayFile, env, slot, secrets);
}
