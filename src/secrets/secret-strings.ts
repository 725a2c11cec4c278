/**
 * Secret-looking strings in a text: secretlint with its recommended preset. The one detection
 * `airlock doctor` runs over the tracked files (`scan-repository.ts`) and the configuration
 * loader over airlock.yaml (`config/literal-secrets.ts`). A finding says where and which rule,
 * never the string (secretlint's `maskSecrets`, and only rule and message ids are kept).
 */
import { lintSource } from '@secretlint/core';
import { creator as recommended } from '@secretlint/secretlint-rule-preset-recommend';

export interface SecretString {
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
  /** Offset of its first character in the text. */
  offset: number;
  /** The secretlint rule id, e.g. `@secretlint/secretlint-rule-database-connection-string`. */
  rule: string;
  /** The rule's message id: the kind of secret, e.g. `PostgreSQLConnection` (no value). */
  kind: string;
}

const CONFIG = {
  rules: [{ id: '@secretlint/secretlint-rule-preset-recommend', rule: recommended }],
};

/** The secret-looking strings of `content` (the text of the file at `filePath`). */
export async function findSecretStrings(
  filePath: string,
  content: string,
): Promise<SecretString[]> {
  const result = await lintSource({
    source: { filePath, content, contentType: 'text' },
    options: { config: CONFIG, maskSecrets: true, noPhysicFilePath: false },
  });
  return result.messages.map((m) => ({
    line: m.loc.start.line,
    col: m.loc.start.column + 1,
    offset: m.range[0],
    rule: m.ruleId,
    kind: m.messageId,
  }));
}
