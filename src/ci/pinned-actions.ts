/**
 * The third-party actions the generated workflows use, each pinned to the full commit SHA of a
 * release tag (a tag can be moved; a commit cannot), with the version written beside it as a
 * comment so Dependabot and Renovate can update the pin. All of them run on
 * Node 24 (GitHub runs actions that declare Node 20 on Node 24 now, with a deprecation warning).
 *
 * Each SHA was checked against public workflows that pin the same action with the same version
 * comment (see docs/github-actions.md, "Pinned actions"). Update them together.
 */

export interface PinnedAction {
  /** owner/name of the action's repository. */
  repository: string;
  /** Full 40-hex commit SHA the release tag points to. */
  sha: string;
  /** The release tag, written as the pin's comment. */
  version: string;
}

export const PINNED_ACTIONS = {
  checkout: {
    repository: 'actions/checkout',
    sha: 'df4cb1c069e1874edd31b4311f1884172cec0e10',
    version: 'v6.0.3',
  },
  setupNode: {
    repository: 'actions/setup-node',
    sha: '48b55a011bda9f5d6aeb4c2d9c7362e8dae4041e',
    version: 'v6.4.0',
  },
  uploadArtifact: {
    repository: 'actions/upload-artifact',
    sha: '043fb46d1a93c77aae656e7c1c64a875d1fc6a0a',
    version: 'v7.0.1',
  },
  downloadArtifact: {
    repository: 'actions/download-artifact',
    sha: '3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c',
    version: 'v8.0.1',
  },
  /** Puts flyctl on PATH (the tool cache), for jobs that deploy to Fly. */
  setupFlyctl: {
    repository: 'superfly/flyctl-actions/setup-flyctl',
    sha: 'ed8efb33836e8b2096c7fd3ba1c8afe303ebbff1',
    version: '1.6',
  },
} as const satisfies Record<string, PinnedAction>;

/** The `uses:` value of a pinned action: `owner/name@<sha>`. */
export function usesOf(action: PinnedAction): string {
  return `${action.repository}@${action.sha}`;
}

/** The version of a pinned `uses:` value (for its comment), or undefined when it is not one. */
export function pinnedVersion(uses: string): string | undefined {
  return Object.values(PINNED_ACTIONS).find((a) => usesOf(a) === uses)?.version;
}

/**
 * The Railway CLI the Railway jobs install (`npm install --global @railway/cli@<version>`): the
 * npm package Railway publishes, pinned to an exact version so every run deploys with the same
 * CLI. Update it with the pins above.
 */
export const RAILWAY_CLI = { package: '@railway/cli', version: '5.63.1' } as const;
