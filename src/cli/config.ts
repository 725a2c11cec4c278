import { stringify } from 'yaml';
import { environmentNamed } from '../config/environments.ts';
import type { ResolvedEnvironment } from '../config/resolve.ts';
import { configJsonSchema } from '../config/schema.ts';
import { ConfigError } from '../errors.ts';
import { describeSink } from '../notify/notify-sinks.ts';
import { allowList } from '../parity/compare.ts';
import type { CommandIO } from './command-io.ts';
import { configWarningLine, loadProjectConfig } from './session.ts';
import { wranglerReferenceErrors } from './wrangler-references.ts';

/** `airlock config validate`. Exit 2 with every diagnostic when invalid. */
export async function configValidateCommand(io: CommandIO): Promise<number> {
  // Always the full validation (never the cache of validated files): this is the check itself.
  const config = await loadProjectConfig(io.globals, { full: true });
  for (const w of config.warnings) io.reporter.warn(configWarningLine(w));
  // A database secret that is not set here stops only the commands that touch its environment.
  for (const env of Object.values(config.environments))
    for (const service of Object.values(env.services)) {
      const u = service.database?.unset;
      if (u)
        io.reporter.warn(
          `${u.file}:${u.line}:${u.col}: ${u.path}: ${u.message} Commands that touch ${env.name} stop until it is set.`,
        );
    }
  // The Worker's wrangler file must have what airlock.yaml names (a deployment checks it too,
  // but only after the build).
  const wrangler = wranglerReferenceErrors(config);
  if (wrangler.length > 0)
    throw new ConfigError('CONFIG_INVALID', wrangler, {
      hint: `Fix ${config.displayFile} or the wrangler file, then run \`airlock config validate\` again.`,
    });
  io.reporter.success(
    `${config.displayFile} is valid: ${config.services.length} service(s), pipeline ${config.pipeline.join(' → ')}.`,
  );
  io.reporter.result({ file: config.file, valid: true, warnings: config.warnings });
  return 0;
}

/** A resolved environment with every database URL replaced by its masked form. */
function masked(env: ResolvedEnvironment): ResolvedEnvironment {
  const services = Object.fromEntries(
    Object.entries(env.services).map(([name, service]) => [
      name,
      service.database
        ? { ...service, database: { ...service.database, url: service.database.display } }
        : service,
    ]),
  );
  return { ...env, services };
}

/** `airlock config show [--env E]`: each environment's settings with inheritance applied (passwords masked). */
export async function configShowCommand(io: CommandIO, opts: { env?: string }): Promise<number> {
  const config = await loadProjectConfig(io.globals);
  const names = opts.env ? [environmentNamed(config, opts.env).name] : config.pipeline;
  const environments = Object.fromEntries(
    names.map((n) => [n, masked(config.environments[n] as ResolvedEnvironment)]),
  );
  const shown = {
    project: config.project,
    state: config.state.display,
    pipeline: config.pipeline,
    ...(config.ci ? { ci: config.ci } : {}),
    ...(config.github ? { github: config.github } : {}),
    // The allow list in effect: the defaults (names, ids, URLs, APP_ENV, LOG_LEVEL …) and yours.
    parity: { gate: config.parity.gate, allow: allowList(config) },
    // Webhook URLs and signing secrets are credentials: only the host is shown.
    ...(config.notify.length ? { notify: config.notify.map(describeSink) } : {}),
    environments,
  };
  io.reporter.info(stringify(shown, { lineWidth: 0 }).trimEnd());
  io.reporter.result(shown);
  return 0;
}

/** `airlock config schema`: the JSON Schema (generated from the zod schema). */
export async function configSchemaCommand(io: CommandIO): Promise<number> {
  const schema = configJsonSchema();
  if (io.globals.json) io.reporter.result({ schema });
  else process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
  return 0;
}
