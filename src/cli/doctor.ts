/**
 * `airlock doctor`: basic checks of the project, each ok, warned or failed — the configuration
 * loads; the project is a git repository; no plaintext `.env*` file is tracked; no tracked file
 * holds a secret-looking string (secretlint's recommended rules over `git ls-files`); the secret
 * store's files have their public keys. Exit 1 when a check fails. Reads only. Findings name file,
 * line and rule, never a value. The generated verify job runs it (docs/secrets.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ResolvedConfig } from '../config/resolve.ts';
import { AirlockError } from '../errors.ts';
import { scanRepository, trackedFiles } from '../secrets/scan-repository.ts';
import { EncryptedFileStore, parseEncryptedFile } from '../secrets/stores/encrypted-file-store.ts';
import { openSecretStore } from '../secrets/stores/open-secret-store.ts';
import type { CommandIO } from './command-io.ts';
import { airlockHome, loadProjectConfig } from './session.ts';

export interface DoctorCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  /** One sentence; for failures, what to do. */
  detail: string;
  /** Findings (file:line rule), when any. */
  findings?: string[];
}

/** Findings listed per check before "and N more". */
const SHOWN = 20;

export async function doctorCommand(io: CommandIO): Promise<number> {
  const checks: DoctorCheck[] = [];
  let config: ResolvedConfig | null = null;
  try {
    config = await loadProjectConfig(io.globals);
    checks.push({ name: 'config', status: 'ok', detail: `${config.displayFile} is valid.` });
  } catch (error) {
    if (!(error instanceof AirlockError)) throw error;
    checks.push({ name: 'config', status: 'fail', detail: error.message });
  }
  const dir = config?.dir ?? process.cwd();
  const tracked = await trackedFiles(dir);
  if (!tracked) {
    checks.push({
      name: 'git',
      status: 'fail',
      detail: `${dir} is not in a git repository: releases are built from commits. Run \`git init\` and commit.`,
    });
  } else {
    checks.push({ name: 'git', status: 'ok', detail: `${tracked.files.length} tracked files.` });
    const found = await scanRepository(tracked.root, tracked.files);
    const env = found.filter((f) => f.rule === 'plaintext-env');
    const strings = found.filter((f) => f.rule !== 'plaintext-env');
    checks.push(
      env.length
        ? {
            name: 'plaintext .env',
            status: 'fail',
            detail: `${env.length} plaintext .env file${env.length === 1 ? ' is' : 's are'} committed. Remove ${env.length === 1 ? 'it' : 'them'} from git (\`git rm --cached <file>\`, add to .gitignore), rotate the values, and keep secrets in the platform or an encrypted store (docs/secrets.md).`,
            findings: env.map((f) => f.file),
          }
        : { name: 'plaintext .env', status: 'ok', detail: 'no plaintext .env file is tracked.' },
    );
    checks.push(
      strings.length
        ? {
            name: 'secrets in files',
            status: 'fail',
            detail: `${strings.length} secret-looking string${strings.length === 1 ? '' : 's'} in tracked files (secretlint, recommended rules). Remove ${strings.length === 1 ? 'it' : 'them'}, rotate the credential, and read it from a secret instead.`,
            findings: strings.map((f) => `${f.file}:${f.line} ${f.rule} (${f.message})`),
          }
        : {
            name: 'secrets in files',
            status: 'ok',
            detail: 'secretlint (recommended rules) finds nothing in the tracked files.',
          },
    );
  }
  if (config) checks.push(...storeChecks(config));

  for (const c of checks) {
    const mark = c.status === 'ok' ? '✓' : c.status === 'warn' ? '⚠' : '✖';
    io.reporter.info(`${mark} ${c.name}: ${c.detail}`);
    for (const f of (c.findings ?? []).slice(0, SHOWN)) io.reporter.note(`    ${f}`);
    const more = (c.findings?.length ?? 0) - SHOWN;
    if (more > 0) io.reporter.note(`    and ${more} more`);
  }
  const failed = checks.filter((c) => c.status === 'fail');
  io.reporter.result({ ok: failed.length === 0, checks });
  return failed.length ? 1 : 0;
}

/** The encrypted store's files: each environment's exists and has its public key. */
function storeChecks(config: ResolvedConfig): DoctorCheck[] {
  let home: string;
  try {
    home = airlockHome(config);
  } catch {
    return [];
  }
  const store = openSecretStore(config, {}, home);
  if (!(store instanceof EncryptedFileStore)) return [];
  const missing = config.pipeline.filter((env) => {
    const file = store.file(env);
    return !existsSync(file) || !parseEncryptedFile(readFileSync(file, 'utf8')).publicKey;
  });
  return [
    missing.length
      ? {
          name: 'encrypted secrets',
          status: 'warn',
          detail: `no encrypted file with a public key for ${missing.join(', ')}: run \`airlock secret keygen <environment>\` for each.`,
        }
      : {
          name: 'encrypted secrets',
          status: 'ok',
          detail: `every environment has its encrypted file (${config.pipeline.map((e) => store.where(e)).join(', ')}).`,
        },
  ];
}
