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
import {
  describeSharedValue,
  fingerprintKey,
  fingerprintOf,
  sharedValues,
} from '../secrets/fingerprint.ts';
import { EncryptedFileStore, privateKeyVariable } from '../secrets/stores/encrypted-file-store.ts';
import { openSecretStore } from '../secrets/stores/open-secret-store.ts';
import { audit } from '../state/audit.ts';
import type { CommandIO } from './command-io.ts';
import { airlockHome, loadProjectConfig, withSession } from './session.ts';

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
  return withSession(
    io,
    async ({ ctx }) => {
      const env = environmentNamed(ctx.config, environment);
      const service = serviceOf(ctx.config.services, opts.service);
      const value = await readValue(name);
      io.reporter.mask.add([value]);
      if (value === '')
        throw new UserError('USAGE', `no value for ${name} on standard input.`, {
          hint: `Pipe it in: \`printf %s "$VALUE" | airlock secret set ${env.name} ${name}\`.`,
        });
      // The isolation policy: one value under a name not shared on purpose lives in one
      // environment only (judged by keyed fingerprints; the value itself is never kept).
      const key = fingerprintKey(ctx.home, process.env, { create: true });
      if (!key) throw new Error('unreachable: the fingerprint key is created when missing');
      const fingerprint = fingerprintOf(key, value);
      const clashes = sharedValues(
        await ctx.store.listSecretFingerprints(),
        env.name,
        ctx.config.secrets.shared,
        { name, fingerprint, keyId: key.id },
      ).filter((c) => !c.allowed);
      if (clashes.length > 0) {
        await audit(ctx, 'secret.set', {
          environment: env.name,
          result: 'refused',
          detail: { service, names: [name], sharedWith: clashes.map((c) => c.other) },
        });
        throw new UserError(
          'SECRET_VALUE_SHARED',
          `refused: ${clashes.map(describeSharedValue).join('; ')}. Each environment needs its own credentials.`,
          {
            hint: `Use a value of ${env.name}'s own (a separate key or password), or, for an external key shared on purpose, add ${name} to secrets.shared in airlock.yaml.`,
            details: { environment: env.name, name, sharedWith: clashes.map((c) => c.other) },
          },
        );
      }
      const store = openSecretStore(ctx.config, process.env, ctx.home);
      let set: string[];
      let where: string;
      if (store) {
        await store.set(env.name, { [name]: value });
        set = [name];
        where = store.where(env.name);
      } else {
        const result = await ctx
          .providerFor(env)
          .setSecrets(
            serviceTarget(ctx.config, env, service),
            { [name]: value },
            { signal: io.signal },
          );
        set = result.set;
        where = env.provider;
      }
      await ctx.store.recordSecretFingerprint({
        environment: env.name,
        service,
        name,
        fingerprint,
        keyId: key.id,
        actor: ctx.actor,
        at: ctx.now().toISOString(),
      });
      await audit(ctx, 'secret.set', {
        environment: env.name,
        detail: {
          service,
          names: set,
          provider: env.provider,
          ...(store ? { store: store.kind } : {}),
        },
      });
      io.reporter.success(
        `${name} set for ${service} on ${env.name} (${where}); it takes effect at the next deployment.`,
      );
      io.reporter.result({ environment: env.name, service, set });
      return 0;
    },
    { environments: [environment] },
  );
}

export async function secretListCommand(
  io: CommandIO,
  environment: string,
  opts: { service?: string },
): Promise<number> {
  return withSession(
    io,
    async ({ ctx }) => {
      const env = environmentNamed(ctx.config, environment);
      const service = serviceOf(ctx.config.services, opts.service);
      const store = openSecretStore(ctx.config, process.env, ctx.home);
      const names = store
        ? await store.names(env.name)
        : await ctx.providerFor(env).secretNames(serviceTarget(ctx.config, env, service));
      io.reporter.info(
        names.length
          ? `${service} on ${env.name}: ${names.join(', ')}`
          : `${service} on ${env.name} has no secrets.`,
      );
      io.reporter.result({ environment: env.name, service, secrets: names });
      return 0;
    },
    { environments: [environment] },
  );
}

/**
 * `airlock secret keygen <env>`: with `secrets.store.encryptedFile`, writes the environment's
 * file with a new public key (to commit), and its private key to `keys/<env>.key` in the Airlock
 * home (mode 0600, outside the project): put that into the CI secret AIRLOCK_SECRETS_KEY_<ENV> of
 * that environment only, then keep or delete the file. The key is never printed.
 * @throws UserError `USAGE` when the store is not an encrypted file; `SECRETS_FILE_EXISTS`.
 */
export async function secretKeygenCommand(io: CommandIO, environment: string): Promise<number> {
  const config = await loadProjectConfig(io.globals);
  const env = environmentNamed(config, environment);
  const store = openSecretStore(config, process.env, airlockHome(config));
  if (!(store instanceof EncryptedFileStore))
    throw new UserError('USAGE', 'airlock secret keygen is for secrets.store.encryptedFile.', {
      hint: 'Set secrets: { store: { encryptedFile: {} } } in airlock.yaml (docs/secrets.md).',
    });
  const { publicKey, keyFile } = await store.keygen(env.name);
  const variable = privateKeyVariable(env.name);
  io.reporter.success(`${store.where(env.name)} created with public key ${publicKey}; commit it.`);
  io.reporter.info(
    `${env.name}'s private key is in ${keyFile} (owner-only). Store its content as the CI secret ${variable} of ${env.name} only; Airlock reads that variable (or this file, on this machine).`,
  );
  io.reporter.result({
    environment: env.name,
    file: store.where(env.name),
    publicKey,
    variable,
    keyFile,
  });
  return 0;
}
