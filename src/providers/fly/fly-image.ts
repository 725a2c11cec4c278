/**
 * fly-image.json: the one image of a release, written into the build output by packageRelease
 * before the output is stored content-addressed, so the image digest is part of the release
 * digest. Every environment deploys `ref` (the image by digest, never by tag).
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../errors.ts';

export const FLY_IMAGE_FILE = 'fly-image.json';

export interface FlyImage {
  schema: 1;
  /** The app whose registry repository holds the image (the first environment's). */
  app: string;
  /** The tag pushed: `registry.fly.io/<app>:<label>`. */
  image: string;
  label: string;
  /** `sha256:<hex>`: the manifest digest. */
  digest: string;
  /** The image by digest: `registry.fly.io/<app>@sha256:<hex>`. What every environment deploys. */
  ref: string;
  commit: string;
  dirty: boolean;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The repository of an image reference (`registry.fly.io/app:tag` → `registry.fly.io/app`). */
export function repositoryOf(image: string): string {
  const withoutDigest = image.split('@')[0] ?? image;
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > slash ? withoutDigest.slice(0, colon) : withoutDigest;
}

export function flyImage(input: Omit<FlyImage, 'schema' | 'ref'>): FlyImage {
  return { schema: 1, ...input, ref: `${repositoryOf(input.image)}@${input.digest}` };
}

export async function writeFlyImage(dir: string, image: FlyImage): Promise<void> {
  await writeFile(path.join(dir, FLY_IMAGE_FILE), `${JSON.stringify(image, null, 2)}\n`);
}

/**
 * The image a release's artifact records.
 * @throws UserError `PROVIDER_CONFIG_INVALID` when the artifact has none (built without the fly
 *   provider packaging it) or it is malformed.
 */
export function readFlyImage(artifactDir: string, releaseId: string): FlyImage {
  const file = path.join(artifactDir, FLY_IMAGE_FILE);
  if (!existsSync(file)) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `release ${releaseId} has no ${FLY_IMAGE_FILE}: it was built without pushing a Fly image.`,
      {
        hint: 'The first environment of the pipeline must use provider fly, so `airlock build` pushes one image; then run `airlock build --rebuild`.',
      },
    );
  }
  let parsed: Partial<FlyImage>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<FlyImage>;
  } catch (error) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `${FLY_IMAGE_FILE} of release ${releaseId} is not JSON: ${(error as Error).message}`,
    );
  }
  if (
    parsed.schema !== 1 ||
    typeof parsed.ref !== 'string' ||
    typeof parsed.digest !== 'string' ||
    !DIGEST.test(parsed.digest) ||
    !parsed.ref.endsWith(`@${parsed.digest}`)
  ) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `${FLY_IMAGE_FILE} of release ${releaseId} does not name an image by digest.`,
      { hint: 'Rebuild the release: `airlock build --rebuild`.' },
    );
  }
  return parsed as FlyImage;
}
