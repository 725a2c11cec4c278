/**
 * `airlock secret set <env> <NAME> [--service S]` and `airlock secret list <env>`: secrets of
 * one environment, set through its provider (`wrangler secret put --env`, `fly secrets
 * import`, Railway variables, the local secrets file). The value is read from standard input
 * (piped, or typed without echo on a terminal): never from argv, where shell history and `ps`
 * would keep it. Only names are printed, audited or stored.
 */
import { createInterface } from 'node:readline/promises';
import { environmentNamed } from '../config/environments.ts';
import { UserError } from '../errors.ts';
import { serviceTarget } from '../pipeline/context.ts';
import { audit } from '../state/audit.ts';
import type { CommandIO } from './command-io.ts';
import { withSession } from './session.ts';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The one service a command is about: `--service`, or the only one. @throws UserError `UNKNOWN_SERVICE`. */
function serviceOf(services: string[], wanted: string | undefined): string {
  if (wanted) {
    if (!services.includes(wanted))
      throw new UserError('UNKNOWN_SERVICE', `there is no service "${wanted}".`, {
        hint: `Services are: ${services.join(', ')}.`,
      });
    return wanted;
  }
  if (services.length !== 1)
    throw new UserError('UNKNOWN_SERVICE', 'several services: say which with --service.', {
      hint: `Services are: ${services.join(', ')}.`,
    });
  return services[0] as string;
}

/** Reads the value: all of stdin when piped, one hidden line on a terminal. */
async function readValue(name: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Echo nothing while the value is typed.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  process.stderr.write(`Value of ${name} (not shown): `);
  try {
    return await rl.question('');
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

export async function secretSetCommand(
  io: CommandIO,
  environment: string,
  name: string,
  opts: { service?: string },
): Promise<number> {
  if (!NAME.test(name))
    throw new UserError('USAGE', `"${name}" is not a secret name.`, {
      hint: 'Use letters, digits and _, not starting with a digit (e.g. STRIPE_KEY).',
    });
  return withSession(io, async ({ ctx }) => {
    const env = environmentNamed(ctx.config, environment);
    const service = serviceOf(ctx.config.services, opts.service);
    const value = await readValue(name);
    io.reporter.mask.add([value]);
    if (value === '')
      throw new UserError('USAGE', `no value for ${name} on standard input.`, {
        hint: `Pipe it in: \`printf %s "$VALUE" | airlock secret set ${env.name} ${name}\`.`,
      });
    const result = await ctx
      .providerFor(env)
      .setSecrets(
        serviceTarget(ctx.config, env, service),
        { [name]: value },
        { signal: io.signal },
      );
    await audit(ctx, 'secret.set', {
      environment: env.name,
      detail: { service, names: result.set, provider: env.provider },
    });
    io.reporter.success(
      `${name} set for ${service} on ${env.name} (${env.provider}); it takes effect at the next deployment.`,
    );
    io.reporter.result({ environment: env.name, service, set: result.set });
    return 0;
  });
}

export async function secretListCommand(
  io: CommandIO,
  environment: string,
  opts: { service?: string },
): Promise<number> {
  return withSession(io, async ({ ctx }) => {
    const env = environmentNamed(ctx.config, environment);
    const service = serviceOf(ctx.config.services, opts.service);
    const names = await ctx.providerFor(env).secretNames(serviceTarget(ctx.config, env, service));
    io.reporter.info(
      names.length
        ? `${service} on ${env.name}: ${names.join(', ')}`
        : `${service} on ${env.name} has no secrets.`,
    );
    io.reporter.result({ environment: env.name, service, secrets: names });
    return 0;
  });
}
