/**
 * Readers of flyctl's output: the image a `deploy --build-only --push` pushed, `status --json`
 * (the AppStatus object: Hostname, AppURL, Machines with config.env, image_ref and checks), and
 * `secrets list --json` (names only are kept). Shapes taken from flyctl's source and from real
 * transcripts; unknown fields are ignored, both key casings of secrets are accepted.
 */

export interface PushedImage {
  /** `registry.fly.io/<app>:<label>` from flyctl's `image: …` line. */
  image: string | null;
  /** `sha256:<hex>` from the push's `<label>: digest: sha256:… size: …` line, when printed. */
  digest: string | null;
}

/**
 * The image a build-and-push reported. flyctl prints `image: <tag>` after every build; the
 * Docker push (local or remote Docker builder) prints `<tag>: digest: sha256:<hex> size: <n>`.
 * Other builders (Depot, buildkit) may not print the digest; the caller then asks the registry.
 */
export function parsePushedImage(output: string, label: string): PushedImage {
  let image: string | null = null;
  let digest: string | null = null;
  for (const raw of output.split(/\r?\n/)) {
    const line = raw.trim();
    const imageMatch = /^image:\s+(\S+)$/.exec(line);
    if (imageMatch?.[1]) image = imageMatch[1];
    const digestMatch = /^(\S+): digest: (sha256:[0-9a-f]{64})\b/.exec(line);
    if (digestMatch?.[2] && (digestMatch[1] === label || digestMatch[1]?.endsWith(`:${label}`)))
      digest = digestMatch[2];
  }
  return { image, digest };
}

export interface FlyMachine {
  id: string;
  state: string;
  region: string;
  processGroup: string | null;
  env: Record<string, string>;
  digest: string | null;
  image: string | null;
  updatedAt: string | null;
  createdAt: string | null;
  /** Check statuses (`passing`, `warning`, `critical`). */
  checks: string[];
}

export interface FlyAppStatus {
  name: string;
  hostname: string | null;
  appUrl: string | null;
  deployed: boolean;
  machines: FlyMachine[];
}

const record = (value: unknown): Record<string, unknown> =>
  value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
const text = (value: unknown): string | null =>
  typeof value === 'string' && value !== '' ? value : null;

/** `fly status --json`. @throws SyntaxError when stdout is not JSON. */
export function parseStatus(stdout: string): FlyAppStatus {
  const data = record(JSON.parse(stdout));
  const machines = Array.isArray(data.Machines) ? data.Machines : [];
  return {
    name: text(data.Name) ?? '',
    hostname: text(data.Hostname),
    appUrl: text(data.AppURL),
    deployed: data.Deployed === true,
    machines: machines.map((raw) => {
      const m = record(raw);
      const config = record(m.config);
      const metadata = record(config.metadata);
      const imageRef = record(m.image_ref);
      const env: Record<string, string> = {};
      for (const [key, value] of Object.entries(record(config.env)))
        if (typeof value === 'string') env[key] = value;
      return {
        id: text(m.id) ?? '',
        state: text(m.state) ?? 'unknown',
        region: text(m.region) ?? '',
        processGroup: text(metadata.fly_process_group),
        env,
        digest: text(imageRef.digest),
        image: text(config.image),
        updatedAt: text(m.updated_at),
        createdAt: text(m.created_at),
        checks: (Array.isArray(m.checks) ? m.checks : []).map(
          (c) => text(record(c).status) ?? 'unknown',
        ),
      };
    }),
  };
}

/** `fly secrets list --json`: the names, sorted. Values are never listed by flyctl. */
export function parseSecretNames(stdout: string): string[] {
  const trimmed = stdout.trim();
  if (!trimmed || trimmed === 'null') return [];
  const data = JSON.parse(trimmed) as unknown;
  const list = Array.isArray(data) ? data : [];
  const names = list
    .map((entry) => {
      const e = record(entry);
      return text(e.Name) ?? text(e.name);
    })
    .filter((name): name is string => name !== null);
  return [...new Set(names)].sort();
}
