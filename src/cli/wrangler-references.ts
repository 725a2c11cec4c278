/**
 * What `airlock config validate` checks beyond airlock.yaml itself for Cloudflare services: each
 * environment's wrangler environment (`cloudflare.env`, `[env.<name>]`) and D1 binding
 * (`database.binding`) exist in the Worker's wrangler file as it is in the working tree. A
 * deployment checks the same in the built commit's file; this finds the typo before a build.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { type ConfigPath, dotted, position } from '../config/diagnostics.ts';
import type { ResolvedConfig } from '../config/resolve.ts';
import { type ConfigDiagnostic, UserError } from '../errors.ts';
import {
  d1Binding,
  findWranglerConfig,
  readWranglerConfig,
  type WranglerConfig,
  wranglerEnvironment,
} from '../providers/cloudflare/wrangler-config.ts';

/**
 * Errors (file, line and field of airlock.yaml) for every Cloudflare environment whose wrangler
 * environment or D1 binding the wrangler file lacks; empty when all are there.
 */
export function wranglerReferenceErrors(config: ResolvedConfig): ConfigDiagnostic[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(readFileSync(config.file, 'utf8'), { lineCounter });
  const source = { file: config.displayFile, doc, lineCounter };
  /** The first of `paths` written in the file (the field that decided the value), else the last. */
  const written = (...paths: ConfigPath[]): ConfigPath =>
    paths.find((p) => doc.hasIn(p)) ?? (paths.at(-1) as ConfigPath);
  const out: ConfigDiagnostic[] = [];
  const report = (at: ConfigPath, error: UserError, why: string) => {
    out.push({
      severity: 'error',
      file: config.displayFile,
      ...position(source, at),
      path: dotted(at),
      // The wrangler file as the project names it, not by its absolute path.
      message: (why ? `${error.message} ${why}` : error.message).replaceAll(
        `${config.dir}${path.sep}`,
        '',
      ),
      ...(error.hint ? { fix: error.hint } : {}),
    });
  };
  const read = new Map<string, WranglerConfig | UserError>();
  const unreadable = new Set<string>();
  for (const name of config.pipeline) {
    const env = config.environments[name];
    if (!env) continue;
    for (const [service, resolved] of Object.entries(env.services)) {
      const settings = resolved.provider;
      if (settings.provider !== 'cloudflare') continue;
      const serviceDir = path.resolve(config.dir, resolved.root);
      const file = settings.config ?? findWranglerConfig(serviceDir);
      // No wrangler file yet: the deployment says so, naming the built commit.
      if (!file) continue;
      if (!read.has(file)) {
        try {
          read.set(file, readWranglerConfig(file));
        } catch (error) {
          if (!(error instanceof UserError)) throw error;
          read.set(file, error);
        }
      }
      const wrangler = read.get(file);
      if (wrangler instanceof UserError) {
        // Reported once per file, whichever environments use it.
        if (!unreadable.has(file)) {
          unreadable.add(file);
          report(
            written(['services', service, 'cloudflare', 'config'], ['services', service]),
            wrangler,
            '',
          );
        }
        continue;
      }
      if (!wrangler) continue;
      const envPath = written(
        ['environments', name, 'services', service, 'cloudflare', 'env'],
        ['services', service, 'cloudflare', 'env'],
        ['environments', name, 'provider'],
      );
      const deploysAs = `Airlock environment ${name} deploys ${service} as ${settings.env === null ? "wrangler's top level" : `[env.${settings.env}]`}.`;
      try {
        wranglerEnvironment(wrangler, settings.env);
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        report(envPath, error, deploysAs);
        continue;
      }
      if (resolved.database?.engine !== 'd1') continue;
      try {
        d1Binding(wrangler, settings.env, resolved.database.d1?.binding ?? null);
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        report(
          written(['services', service, 'database', 'binding'], ['services', service, 'database']),
          error,
          deploysAs,
        );
      }
    }
  }
  return out;
}
