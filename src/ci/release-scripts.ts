/**
 * The shell scripts of the generated workflows' `run:` steps: how a release is built once,
 * packed, uploaded, found again (maybe by another workflow run), unpacked and promoted by its
 * digest. Each runs under `bash -eo pipefail` (the workflows' default shell), reads GitHub's
 * values from environment variables (never `${{ … }}` inside a script), and parses Airlock's
 * `--json` output with Node, which the job has set up anyway.
 */

/** Where a job keeps the release it uploads or downloads: outside the checkout. */
export const RELEASE_DIR = 'airlock-release';

/** The artifact name of a release: one per digest, so a name is never reused for other bytes. */
export function artifactNameScript(project: string): string {
  return `airlock-${project}-\${release.digest}`;
}

/** Node lines that print a release's step outputs (`release`, `digest`, `commit`, `artifact`). */
function releaseOutputs(project: string): string {
  return [
    'console.log(`release=${release.id}`);',
    'console.log(`digest=${release.digest}`);',
    'console.log(`commit=${release.commit}`);',
    `console.log(\`artifact=${artifactNameScript(project)}\`);`,
  ].join('\n');
}

/**
 * Fails unless Airlock's state is shared (Postgres or D1): every job runs on a fresh runner, so the
 * release, the staging checks and the approvals must outlive it.
 */
export function requireTeamStateScript(environment: string | null): string {
  const where =
    environment === null
      ? 'as a repository secret'
      : `to the GitHub environment ${environment}, or as a repository secret`;
  return `config="$RUNNER_TEMP/airlock-config.json"
npx airlock config show --json > "$config" || { cat "$config"; exit 1; }
state=$(node -p 'require(process.argv[1]).state' "$config")
case "$state" in
  postgres://* | postgresql://*) echo "Airlock state: shared Postgres (team mode)" ;;
  d1://*) echo "Airlock state: shared Cloudflare D1 (team mode)" ;;
  *)
    echo "::error title=Airlock needs shared state::each job runs on a fresh runner, so Airlock's state (releases, checks, approvals, locks) must live in Postgres or Cloudflare D1. Add the secret AIRLOCK_STATE_URL (postgres://… or d1://<account-id>/<database-id>) ${where}."
    exit 1
    ;;
esac
`;
}

/**
 * Builds the release of the checked-out commit once (or finds it, on a re-run) and prints its
 * outputs, plus `paths` (its artifacts under the project's Airlock home, which `airlock home
 * path` prints) and `local` (whether they are on this runner: false when an earlier attempt
 * built it).
 */
export function buildReleaseScript(project: string): string {
  return `npx airlock build --json | tee "$RUNNER_TEMP/airlock-build.json"
node - "$RUNNER_TEMP/airlock-build.json" "$(npx airlock home path)" >> "$GITHUB_OUTPUT" <<'JS'
const fs = require('node:fs');
const { release } = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
if (release.dirty) {
  console.error('::error title=Dirty build::the checkout had uncommitted changes when Airlock built it. A release is a build of one commit: make sure no step before the build writes into the repository.');
  process.exit(1);
}
// The store keeps manifests and the file objects they name; a runner's home holds this build's.
const paths = Object.values(release.services)
  .flatMap((service) => [service.digest, service.migrationsDigest])
  .filter(Boolean)
  .map((digest) => \`artifacts/manifests/\${digest}.json.gz\`)
  .concat(['artifacts/objects']);
${releaseOutputs(project)}
console.log(\`paths=\${paths.join(' ')}\`);
console.log(\`local=\${paths.every((p) => fs.existsSync(\`\${process.argv[3]}/\${p}\`))}\`);
JS
`;
}

/** Packs the release for upload: its record (the manifest) and a tar of its artifacts. */
export const PACK_RELEASE_SCRIPT = `dir="$RUNNER_TEMP/${RELEASE_DIR}"
rm -rf "$dir"
mkdir -p "$dir"
cp "$RUNNER_TEMP/airlock-build.json" "$dir/release.json"
# A tar keeps file modes, which a zipped upload would drop (the digest covers them).
read -r -a paths <<< "$ARTIFACT_PATHS"
tar -cf "$dir/artifacts.tar" -C "$(npx airlock home path)" "\${paths[@]}"
ls -l "$dir"
`;

/**
 * Finds the workflow run that uploaded the release's artifact (the artifact name holds the
 * digest), for the download step's `run-id`.
 */
export const FIND_ARTIFACT_SCRIPT = `run_id=$(gh api "repos/$GITHUB_REPOSITORY/actions/artifacts?name=$ARTIFACT&per_page=100" \\
  --jq '[.artifacts[] | select(.expired | not)][0].workflow_run.id // empty')
if [ -z "$run_id" ]; then
  echo "::error title=Release artifact not found::no unexpired artifact $ARTIFACT in $GITHUB_REPOSITORY. The workflow run that builds a release uploads it, and artifacts expire (90 days by default); deploy a newer release to staging and promote that one."
  exit 1
fi
echo "$ARTIFACT was uploaded by workflow run $run_id"
echo "run-id=$run_id" >> "$GITHUB_OUTPUT"
`;

/** Checks the downloaded manifest names the expected release, then unpacks its artifacts. */
export const UNPACK_RELEASE_SCRIPT = `dir="$RUNNER_TEMP/${RELEASE_DIR}"
digest=$(node -p 'require(process.argv[1]).release.digest' "$dir/release.json")
if [ "$digest" != "$RELEASE_DIGEST" ]; then
  echo "::error title=Wrong artifact::the artifact holds release sha256:$digest, not sha256:$RELEASE_DIGEST."
  exit 1
fi
home=$(npx airlock home path)
mkdir -p "$home"
tar -xf "$dir/artifacts.tar" -C "$home"
echo "Release sha256:$RELEASE_DIGEST unpacked; Airlock re-digests it before it deploys."
`;

/** Node that prints the outputs of the release a `plan --json` file names. */
function planOutputs(project: string, target: string): string {
  return `node - "$plan" >> "$GITHUB_OUTPUT" <<'JS'
const { release } = require(process.argv[2]).plan;
console.error(\`Promoting \${release.id} (commit \${release.commit.slice(0, 7)}, sha256:\${release.digest.slice(0, 12)}) to ${target}\`);
${releaseOutputs(project)}
JS
`;
}

/**
 * Resolves the release a manual promotion takes: a version tag's commit, else the
 * `RELEASE_INPUT` reference (r3, digest or commit prefix), else what the previous environment
 * serves. Airlock resolves the reference (`plan --json`).
 */
export function resolveManualReleaseScript(project: string, target: string): string {
  return `ref="$RELEASE_INPUT"
if [ "$GITHUB_REF_TYPE" = tag ]; then ref="$GITHUB_SHA"; fi
plan="$RUNNER_TEMP/airlock-plan.json"
args=(plan ${target} --json)
if [ -n "$ref" ]; then args+=(--release "$ref"); fi
# Exit 4 is a plan whose gate blocks now: it still names the release (promote enforces the gates).
status=0
npx airlock "\${args[@]}" > "$plan" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 4 ]; then cat "$plan"; exit 1; fi
${planOutputs(project, target)}`;
}

/**
 * Resolves the release a push to main promotes (staging-branch flow): the release built from
 * this very commit; or, for a merge commit, the release the previous environment serves when
 * this commit has exactly its files. Never a rebuild.
 */
export function resolveBranchReleaseScript(
  project: string,
  previous: string,
  target: string,
): string {
  return `plan="$RUNNER_TEMP/airlock-plan.json"
# Exit 4 is a plan whose gate blocks now (say, before this runner has the release's files): it
# still names the release, and the promote step enforces the gates.
status=0
npx airlock plan ${target} --release "$GITHUB_SHA" --json > "$plan" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 4 ]; then
  echo "No release was built from $GITHUB_SHA; promoting what ${previous} serves if this commit has exactly its files."
  status=0
  npx airlock plan ${target} --json > "$plan" || status=$?
  if [ "$status" -ne 0 ] && [ "$status" -ne 4 ]; then cat "$plan"; exit 1; fi
  serving=$(node -p 'require(process.argv[1]).plan.release.commit' "$plan")
  if [ "$(git rev-parse "$serving^{tree}")" != "$(git rev-parse "HEAD^{tree}")" ]; then
    echo "::error title=Not what ${previous} serves::$GITHUB_SHA is not the commit ${previous} serves ($serving) and its files differ: ${target} only gets what ${previous} tested. Push this commit to the ${previous} branch first, then merge ${previous} into this branch."
    exit 1
  fi
fi
${planOutputs(project, target)}`;
}

/**
 * The automatic policy: promote as soon as every gate holds (`--auto` waits while one is
 * pending), unless a newer release has replaced this run's on the previous environment (its
 * own run promotes it; the bytes on this runner are this run's release).
 */
export function autoPromoteScript(previous: string, target: string, flags = ''): string {
  return `plan="$RUNNER_TEMP/airlock-plan.json"
# Exit 4 (a gate blocks now, e.g. a soak still running) still names the release: --auto waits.
status=0
npx airlock plan ${target} --json > "$plan" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 4 ]; then cat "$plan"; exit 1; fi
next=$(node -p 'require(process.argv[1]).plan.release.digest' "$plan")
if [ "$next" != "$RELEASE_DIGEST" ]; then
  echo "::notice title=Superseded::${previous} now serves another release (sha256:\${next:0:12}); the run that deployed it promotes it to ${target}."
  exit 0
fi
# --release: should a newer release reach ${previous} while this one waits (soak, CI), this one
# is superseded (exit 0) and never promoted from bytes this run did not build.
npx airlock promote ${target} --auto --release "$RELEASE_DIGEST"${flags} --yes
`;
}

/**
 * The approve workflow's step: `airlock approve <environment>` for the dispatched release, with
 * `--reject` and the reason from the inputs, proven by the run's OIDC token (`--oidc`). The
 * inputs arrive as environment variables (RELEASE, DECISION, REASON), never spliced into the
 * script.
 */
export function approveScript(environment: string): string {
  return `args=(approve ${environment} --release "$RELEASE" --oidc)
if [ "$DECISION" = reject ]; then args+=(--reject); fi
if [ -n "$REASON" ]; then args+=(-m "$REASON"); fi
npx airlock "\${args[@]}"
`;
}

/**
 * Resolves the rollback workflow's `RELEASE` input (r3, a digest with or without `sha256:`, or a
 * commit prefix of at least 7 characters) among the releases Airlock recorded, and prints its
 * outputs for the artifact download. An unknown or ambiguous reference fails, naming the input.
 */
export function resolveRollbackReleaseScript(project: string): string {
  return `list="$RUNNER_TEMP/airlock-releases.json"
npx airlock releases --limit 1000 --json > "$list" || { cat "$list"; exit 1; }
node - "$list" "$RELEASE" >> "$GITHUB_OUTPUT" <<'JS'
const [file, input] = process.argv.slice(2);
const ref = input.trim().replace(/^sha256:/, '');
const matches = require(file).releases.filter(
  (r) => r.id === ref || (ref.length >= 7 && (r.digest.startsWith(ref) || r.commit.startsWith(ref))),
);
if (matches.length !== 1) {
  console.error(\`::error title=Which release?::"\${input}" names \${matches.length === 0 ? 'no release' : 'several releases'}. Give a release id such as r3, a digest or a commit prefix of 7 or more characters (airlock releases lists them).\`);
  process.exit(1);
}
const [release] = matches;
console.error(\`Rolling back to \${release.id} (commit \${release.commit.slice(0, 7)}, sha256:\${release.digest.slice(0, 12)})\`);
${releaseOutputs(project)}
JS
`;
}
