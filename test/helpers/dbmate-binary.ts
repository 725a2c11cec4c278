/**
 * dbmate's binary for this machine, installed on first use from the npm registry into a cache
 * folder (`node_modules/.cache/airlock-tools/`), not as a dependency: the `dbmate` package lists
 * one binary package per platform as optional dependencies, and a lock file made on a registry
 * that serves only some of them makes `npm ci` fail everywhere. `@dbmate/<platform>-<arch>` holds
 * the Go binary and runs no install script.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTool } from '../../src/process/run-tool.ts';

export const DBMATE_VERSION = '2.36.0';

const cache = fileURLToPath(new URL('../../node_modules/.cache/airlock-tools/', import.meta.url));
const binaryPackage = `@dbmate/${process.platform}-${process.arch}`;

/**
 * The absolute path of the dbmate binary, installing it first when it is missing.
 * @throws Error when npm could not install it (no registry, an unsupported platform).
 */
export async function dbmateBinary(): Promise<string> {
  const prefix = path.join(cache, `dbmate-${DBMATE_VERSION}`);
  const binary = path.join(prefix, 'node_modules', binaryPackage, 'bin', 'dbmate');
  if (existsSync(binary)) return binary;
  mkdirSync(prefix, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = await runTool({
    command: npm,
    args: [
      'install',
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--prefix',
      prefix,
      `${binaryPackage}@${DBMATE_VERSION}`,
    ],
    cwd: prefix,
    timeoutMs: 180_000,
  });
  if (result.exitCode !== 0 || !existsSync(binary)) {
    throw new Error(
      `could not install ${binaryPackage}@${DBMATE_VERSION} from the npm registry (exit ${result.exitCode}):\n${result.stdout}${result.stderr}`,
    );
  }
  return binary;
}
