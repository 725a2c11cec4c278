/**
 * One warm verification in a fresh process, as a command makes it (deploy, promote and rollback
 * each verify once): prints the milliseconds of that call alone, module loading excluded. Run by
 * section (i): `node bench/verify-once.ts <artifacts root> <digest>`.
 */
import { ArtifactStore } from '../src/releases/artifact-store.ts';

const [root, digest] = process.argv.slice(2);
if (!root || !digest) throw new Error('usage: node bench/verify-once.ts <artifacts root> <digest>');
const started = performance.now();
await new ArtifactStore(root).verify(digest);
process.stdout.write(`${JSON.stringify({ ms: performance.now() - started })}\n`);
