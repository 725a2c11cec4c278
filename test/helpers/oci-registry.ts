/**
 * A real OCI registry for tests: the CNCF distribution registry of Debian's `docker-registry`
 * package (`/usr/bin/docker-registry`; `.ci/run` installs it when missing), started on a free
 * 127.0.0.1 port with its storage in a temporary folder, optionally behind HTTP basic auth
 * (`auth: htpasswd`, a bcrypt htpasswd file made with bcryptjs) or behind token auth (`auth:
 * token`: the registry answers 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...`
 * and trusts the ES256 JSON web tokens of a small token service this helper runs on another free
 * port, signed with a key whose self-signed certificate, made with the openssl CLI, is the
 * registry's `rootcertbundle`). Any registry the machine may run as a service (Debian's starts
 * one on :5000) is not used. Also used by the benchmark (bench/artifact-store.ts).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes, sign } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
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
  /** Tokens the token service issued (token auth only). */
  tokensIssued(): number;
  stop(): Promise<void>;
}

export interface RegistryAuth {
  user: string;
  password: string;
  /** `basic` (htpasswd, the default) or `token` (a bearer token from the token service). */
  scheme?: 'basic' | 'token';
}

export async function startRegistry(options: { auth?: RegistryAuth } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-oci-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let tokenService: Server | null = null;
  let issued = 0;
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
  if (options.auth?.scheme === 'token') {
    const started = await startTokenService(dir, options.auth, () => {
      issued += 1;
    });
    tokenService = started.server;
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${started.realm}`,
      `    service: ${TOKEN_SERVICE}`,
      `    issuer: ${TOKEN_ISSUER}`,
      `    rootcertbundle: ${started.certFile}`,
    );
  } else if (options.auth) {
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
      tokenService?.close();
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
    tokensIssued: () => issued,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
      await new Promise((r) => (tokenService ? tokenService.close(r) : r(null)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const TOKEN_SERVICE = 'airlock-test-registry';
const TOKEN_ISSUER = 'airlock-test-token-service';

/**
 * The token service of a registry behind `auth: token`: `GET /token?service=&scope=` with HTTP
 * basic credentials answers `{ token }`, an ES256 JSON web token granting the scopes asked for
 * (`repository:<name>:<actions>`), whose certificate chain (`x5c`) is the self-signed certificate
 * the registry trusts; wrong or missing credentials get 401.
 */
async function startTokenService(
  dir: string,
  auth: RegistryAuth,
  onIssue: () => void,
): Promise<{ server: Server; realm: string; certFile: string }> {
  const keyFile = path.join(dir, 'token.key');
  const certFile = path.join(dir, 'token.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=airlock-test-token-service',
    ],
    { stdio: 'ignore' },
  );
  const key = readFileSync(keyFile, 'utf8');
  const certDer = readFileSync(certFile, 'utf8').replace(
    /-----(BEGIN|END) CERTIFICATE-----|\s/g,
    '',
  );
  const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const expected = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/token' || req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const access = url.searchParams.getAll('scope').flatMap((scope) => {
      const [type, name, actions] = scope.split(':');
      return type && name && actions ? [{ type, name, actions: actions.split(',') }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const body = `${b64url({ alg: 'ES256', typ: 'JWT', x5c: [certDer] })}.${b64url({
      iss: TOKEN_ISSUER,
      sub: auth.user,
      aud: url.searchParams.get('service') ?? TOKEN_SERVICE,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    })}`;
    const signature = sign('sha256', Buffer.from(body), { key, dsaEncoding: 'ieee-p1363' });
    onIssue();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ token: `${body}.${signature.toString('base64url')}`, expires_in: 300 }),
    );
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, realm: `http://127.0.0.1:${port}/token`, certFile };
}
