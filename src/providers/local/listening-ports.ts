/**
 * Which TCP ports a process group listens on, read from Linux's /proc (the way `ss -ltnp`
 * finds them: the group's socket inodes, matched against /proc/net/tcp{,6} rows in the LISTEN
 * state). Used to say "your app listens on 3000, not on PORT" when a health check never
 * answers. Elsewhere than Linux it answers an empty list: the message then says less, nothing
 * breaks.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

/** TCP state 0A is LISTEN in /proc/net/tcp. */
const LISTEN = '0A';

async function groupPids(pgid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses: read after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid) pids.push(Number(entry));
  }
  return pids;
}

async function socketInodes(pid: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.add(m[1] as string);
  }
  return inodes;
}

/**
 * The ports (sorted, unique) that processes of group `pgid` listen on over TCP.
 * Never throws; an empty list when nothing can be read.
 */
export async function listeningPorts(pgid: number): Promise<number[]> {
  const inodes = new Set<string>();
  for (const pid of await groupPids(pgid)) for (const i of await socketInodes(pid)) inodes.add(i);
  if (inodes.size === 0) return [];
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (cols[3] !== LISTEN || !inodes.has(cols[9] ?? '')) continue;
      const port = Number.parseInt((cols[1] ?? '').split(':')[1] ?? '', 16);
      if (Number.isInteger(port)) ports.add(port);
    }
  }
  return [...ports].sort((a, b) => a - b);
}
