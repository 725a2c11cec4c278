/**
 * A real OCI registry for tests: the CNCF distribution registry of Debian's `docker-registry`
 * package (`/usr/bin/docker-registry`; `.ci/run` installs it when missing), started on a free
 * 127.0.0.1 port with its storage in a temporary folder, optionally behind HTTP basic auth
 * (`auth: htpasswd`, a bcrypt htpasswd file made with bcryptjs). Any registry the machine may run
 * as a service (Debian's starts one on :5000) is not used.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { freePort } from './local-registry.ts';

export const REGISTRY_BIN = '/usr/bin/docker-registry';
/** What the registry tests need, for skip and failure messages. */
export const REGISTRY_NEEDED = `the CNCF distribution registry at ${REGISTRY_BIN} (Debian package docker-registry; .ci/run installs it)`;
export const registryAvailable = existsSync(REGISTRY_BIN);

export interface TestRegistry {
  /** `127.0.0.1:<port>`. */
  host: string;
  /** `oci://127.0.0.1:<port>/<repository>`. */
  url(repository: string): string;
  /** The file holding a blob's bytes in the registry's storage (for tampering). */
  blobFile(sha: string): string;
  /** sha256s of every blob the registry stores. */
  blobs(): Set<string>;
  stop(): Promise<void>;
}

export async function startRegistry(
  options: { auth?: { user: string; password: string } } = {},
): Promise<TestRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-oci-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${dir}/data`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${host}`,
    '  secret: airlock-test-only',
  ];
  if (options.auth) {
    const htpasswd = path.join(dir, 'htpasswd');
    writeFileSync(
      htpasswd,
      `${options.auth.user}:${bcrypt.hashSync(options.auth.password, bcrypt.genSaltSync(4))}\n`,
    );
    lines.push('auth:', '  htpasswd:', '    realm: airlock-test', `    path: ${htpasswd}`);
  }
  writeFileSync(path.join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', path.join(dir, 'config.yml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c) => {
    stderr += c;
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const up = await fetch(`http://${host}/v2/`).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill();
      throw new Error(`the registry did not start on ${host}:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const blobsRoot = path.join(dir, 'data/docker/registry/v2/blobs/sha256');
  return {
    host,
    url: (repository) => `oci://${host}/${repository}`,
    blobFile: (sha) => path.join(blobsRoot, sha.slice(0, 2), sha, 'data'),
    blobs() {
      const found = new Set<string>();
      for (const prefix of existsSync(blobsRoot) ? readdirSync(blobsRoot) : [])
        for (const sha of readdirSync(path.join(blobsRoot, prefix))) found.add(sha);
      return found;
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
