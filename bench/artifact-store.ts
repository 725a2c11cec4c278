/**
 * (m) The shared artifact store on a real OCI registry (the CNCF distribution registry of
 * Debian's docker-registry, started on a free 127.0.0.1 port with its storage in a temporary
 * folder): the real-size artifact of (i) (thousands of files, tens of MB) pushed by
 * `ArtifactStore.push` into an empty repository and pulled (and verified) into an empty store,
 * against `tar -cf - . | curl -T -` (one streamed upload of the same tree into the same
 * registry) and `curl | tar -x` (its download); then a second release that changes one file:
 * what its push sends and its pull fetches into a store holding the first.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ArtifactStore } from '../src/releases/artifact-store.ts';
import { serializeManifest } from '../src/releases/manifest.ts';
import { OciStore } from '../src/releases/oci-store.ts';
import { CONCURRENCY, PACK_FILE_MAX, PACKS } from '../src/releases/remote-transfer.ts';
import { REGISTRY_BIN, registryAvailable, startRegistry } from '../test/helpers/oci-registry.ts';
import { log } from './project.ts';
import { installRealSizeTree } from './real-size.ts';
import { row, type Section } from './report.ts';
import { median, p95, round1 } from './stats.ts';

export interface ArtifactStoreBenchResult {
  files: number;
  bytes: number;
  pushMs: number[];
  pullMs: number[];
  tarCurlPushMs: number[];
  curlTarPullMs: number[];
  /** Bytes of the tar the baseline sends. */
  tarBytes: number;
  /** The second release (one file changed): push and pull into a store holding the first. */
  secondPushMs: number[];
  secondPushBytes: number;
  /** Of those, the bytes of the second release's Airlock manifest (every path, mode, sha256). */
  secondManifestBytes: number;
  secondPullMs: number[];
  secondPullBytes: number;
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

export async function measureArtifactStore(options: {
  runs: number;
}): Promise<ArtifactStoreBenchResult | null> {
  if (!registryAvailable) {
    log(`artifact store: ${REGISTRY_BIN} is missing (Debian package docker-registry); skipped`);
    return null;
  }
  const tree = installRealSizeTree();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-oci-'));
  const registry = await startRegistry();
  const { host } = registry;
  try {
    const source = new ArtifactStore(path.join(tmp, 'source'));
    const built = await source.put(tree);
    log(`artifact store: ${built.files} files, ${(built.bytes / 1e6).toFixed(1)} MB`);
    const result: ArtifactStoreBenchResult = {
      files: built.files,
      bytes: built.bytes,
      pushMs: [],
      pullMs: [],
      tarCurlPushMs: [],
      curlTarPullMs: [],
      tarBytes: 0,
      secondPushMs: [],
      secondPushBytes: 0,
      secondManifestBytes: 0,
      secondPullMs: [],
      secondPullBytes: 0,
    };
    const tarFile = path.join(tmp, 'tree.tar');
    execFileSync('tar', ['-C', tree, '-cf', tarFile, '.']);
    const tarBytes = readFileSync(tarFile);
    result.tarBytes = tarBytes.length;
    const tarSha = createHash('sha256').update(tarBytes).digest('hex');
    for (let run = 0; run < options.runs; run++) {
      const repo = `oci://${host}/bench/run${run}`;
      // Push into an empty repository (every blob is sent).
      const pusher = new ArtifactStore(source.root, { remote: new OciStore(repo) });
      result.pushMs.push((await timeAsync(() => pusher.push(built.digest))).ms);
      // Pull into an empty store: fetch, hash every byte, store the objects, verify.
      const into = path.join(tmp, `pull-${run}`);
      const puller = new ArtifactStore(into, { remote: new OciStore(repo) });
      result.pullMs.push((await timeAsync(() => puller.verify(built.digest))).ms);
      rmSync(into, { recursive: true, force: true });

      // Baseline: the same tree as one tar stream, uploaded into the same registry (a PATCH
      // the registry writes to disk), and downloaded and unpacked.
      const location = execFileSync(
        'sh',
        [
          '-c',
          `curl -sS -o /dev/null -D - -X POST http://${host}/v2/bench/tar${run}/blobs/uploads/ | sed -n 's/^[Ll]ocation: //p' | tr -d '\\r'`,
        ],
        { encoding: 'utf8' },
      ).trim();
      const started = performance.now();
      execFileSync('sh', [
        '-c',
        `tar -C '${tree}' -cf - . | curl -sS -f -o /dev/null -X PATCH -H 'Content-Type: application/octet-stream' -T - '${location}'`,
      ]);
      result.tarCurlPushMs.push(performance.now() - started);
      // Completes the baseline's blob (not timed) so it can be downloaded.
      execFileSync('curl', [
        '-sS',
        '-f',
        '-o',
        '/dev/null',
        '-X',
        'PUT',
        '-H',
        'Content-Type: application/octet-stream',
        '--data-binary',
        `@${tarFile}`,
        `${execFileSync(
          'sh',
          [
            '-c',
            `curl -sS -o /dev/null -D - -X POST http://${host}/v2/bench/tar${run}/blobs/uploads/ | sed -n 's/^[Ll]ocation: //p' | tr -d '\\r'`,
          ],
          { encoding: 'utf8' },
        ).trim()}&digest=sha256:${tarSha}`,
      ]);
      const unpack = path.join(tmp, `untar-${run}`);
      mkdirSync(unpack);
      const pulled = performance.now();
      execFileSync('sh', [
        '-c',
        `curl -sS -f http://${host}/v2/bench/tar${run}/blobs/sha256:${tarSha} | tar -C '${unpack}' -xf -`,
      ]);
      result.curlTarPullMs.push(performance.now() - pulled);
      rmSync(unpack, { recursive: true, force: true });
    }

    // A second release that changes one file: its push sends that file (and the manifests),
    // its pull into a store holding the first fetches that file.
    const view = path.join(tmp, 'second');
    await source.materialize(built.digest, view, {});
    const changed = path.join(view, 'package.json');
    unlinkSync(changed);
    for (let run = 0; run < options.runs; run++) {
      writeFileSync(changed, `{"name":"real-size","version":"1.0.${run + 1}"}\n`);
      const remote = new OciStore(`oci://${host}/bench/run0`);
      const second = new ArtifactStore(path.join(tmp, 'source'), { remote });
      const put = await timeAsync(() => second.put(view));
      result.secondPushMs.push(put.ms);
      result.secondPushBytes = remote.sentBytes;
      result.secondManifestBytes = Buffer.byteLength(
        serializeManifest(await second.manifest(put.value.digest)),
      );
      // A store holding the first release pulls the second.
      const holder = path.join(tmp, `holder-${run}`);
      const first = new ArtifactStore(holder, { remote: new OciStore(`oci://${host}/bench/run0`) });
      await first.verify(built.digest);
      let fetched = 0;
      const next = new ArtifactStore(holder, {
        remote: new OciStore(`oci://${host}/bench/run0`),
        onTransfer: (e) => {
          fetched = e.stats.bytes;
        },
      });
      result.secondPullMs.push((await timeAsync(() => next.verify(put.value.digest))).ms);
      result.secondPullBytes = fetched;
      rmSync(holder, { recursive: true, force: true });
    }
    return result;
  } finally {
    await registry.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function artifactStoreSection(result: ArtifactStoreBenchResult | null): Section {
  if (!result)
    return {
      id: 'artifact-store',
      title: '(m) Shared artifact store (OCI registry): skipped, no docker-registry',
      valueLabel: 'median',
      rows: [],
      notes: ['Install the Debian package docker-registry to measure it.'],
      details: {},
    };
  const stat = (values: number[]) => ({
    value: round1(median(values)),
    p95: round1(p95(values)),
    n: values.length,
  });
  const push = round1(median(result.tarCurlPushMs));
  const pull = round1(median(result.curlTarPullMs));
  return {
    id: 'artifact-store',
    title: `(m) Shared artifact store on a local OCI registry: ${result.files} files, ${(result.bytes / 1e6).toFixed(1)} MB`,
    valueLabel: 'median',
    rows: [
      row('push to an empty repository (ArtifactStore.push)', {
        unit: 'ms',
        ...stat(result.pushMs),
        baseline: push,
        baselineLabel: 'tar | curl -T - (one upload)',
      }),
      row('pull into an empty store, every byte verified', {
        unit: 'ms',
        ...stat(result.pullMs),
        baseline: pull,
        baselineLabel: 'curl | tar -x',
      }),
      row('second release (one file changed): push', {
        unit: 'ms',
        ...stat(result.secondPushMs),
      }),
      row('  bytes it sent (packs or file, manifests)', {
        unit: 'count',
        value: result.secondPushBytes,
        baseline: result.tarBytes,
        baselineLabel: 'the tar',
      }),
      row('  of which the Airlock manifest', {
        unit: 'count',
        value: result.secondManifestBytes,
      }),
      row('second release: pull into a store holding the first', {
        unit: 'ms',
        ...stat(result.secondPullMs),
        baseline: pull,
        baselineLabel: 'curl | tar -x',
      }),
      row('  bytes it fetched (file + manifest)', {
        unit: 'count',
        value: result.secondPullBytes,
        baseline: result.tarBytes,
        baselineLabel: 'the tar',
      }),
    ],
    notes: [
      `The baselines move one ${(result.tarBytes / 1e6).toFixed(1)} MB tar stream and verify nothing; Airlock sends each file over ${PACK_FILE_MAX / 1024} KiB as a blob of its own and the smaller ones in ${PACKS} packs by sha256 (${CONCURRENCY} requests in flight), hashes every byte it pulls, and stores each file once by sha256, so a second release moves only the changed file's blob or packs (a pull fetches a few files of a pack as byte ranges).`,
    ],
    details: { ...result },
  };
}
