/**
 * Stable local ports per project for `airlock init`: derived from the project's name, so two
 * projects on one machine get different ports and the same project gets the same ones each
 * time, then checked free on 127.0.0.1 (the next pair is tried when one is taken).
 */
import { createHash } from 'node:crypto';
import net from 'node:net';

/** Ports are chosen in [FIRST_PORT, FIRST_PORT + SLOTS * STRIDE): below the ephemeral range. */
const FIRST_PORT = 4100;
const SLOTS = 2000;
/** Each project gets STRIDE consecutive ports (one per environment, room for a few more). */
const STRIDE = 10;

/** Whether nothing listens on `port` on 127.0.0.1 (a listen attempt, closed at once). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/** The first port of the slot a project's name hashes to (4100, 4110 … 24090). */
export function basePortFor(project: string): number {
  const n = createHash('sha256').update(project).digest().readUInt32BE(0);
  return FIRST_PORT + (n % SLOTS) * STRIDE;
}

/**
 * `count` free ports for `project` (one per environment, in pipeline order): the ports of its
 * slot, else of the next slots, until every one is free.
 * @param isFree defaults to {@link isPortFree}.
 * @throws Error when 50 slots in a row are all taken (never on a usual machine).
 */
export async function choosePorts(
  project: string,
  count: number,
  isFree: (port: number) => Promise<boolean> = isPortFree,
): Promise<number[]> {
  const base = basePortFor(project);
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = FIRST_PORT + (((base - FIRST_PORT) / STRIDE + attempt) % SLOTS) * STRIDE;
    const ports = Array.from({ length: Math.min(count, STRIDE) }, (_, i) => first + i);
    const free = await Promise.all(ports.map((p) => isFree(p)));
    if (free.every(Boolean)) return ports;
  }
  throw new Error(`no ${count} free ports found for ${project} from port ${base}`);
}
