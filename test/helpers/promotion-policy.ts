/** A promotion policy for unit tests: manual, one approval by anyone, no waits; `approval` and `rest` override. */
import type { PromotionPolicy } from '../../src/config/resolve.ts';

export function promotionPolicy(
  approval: Partial<PromotionPolicy['approval']> = {},
  rest: Partial<Omit<PromotionPolicy, 'approval'>> = {},
): PromotionPolicy {
  return {
    policy: 'manual',
    approval: {
      required: 1,
      allowSelfApproval: false,
      approvers: null,
      expiresAfterMs: null,
      identity: 'any',
      dashboardApprovals: false,
      allowedSigners: '.approvals/allowed_signers',
      oidc: null,
      ...approval,
    },
    soakMs: null,
    ci: false,
    checksMaxAgeMs: null,
    livePrevious: true,
    rollbackRehearsal: 'off',
    window: null,
    freeze: [],
    ...rest,
  };
}
