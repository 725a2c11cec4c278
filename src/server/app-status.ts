import type { ErrorCode } from '../errors.ts';

/** HTTP status of an Airlock error, by its code. */
export function statusOf(code: ErrorCode): 400 | 403 | 404 | 409 {
  switch (code) {
    case 'RELEASE_NOT_FOUND':
    case 'DEPLOYMENT_NOT_FOUND':
    case 'UNKNOWN_ENVIRONMENT':
    case 'UNKNOWN_SERVICE':
      return 404;
    case 'SELF_APPROVAL':
    case 'NOT_AN_APPROVER':
    case 'APPROVAL_IDENTITY_REQUIRED':
      return 403;
    case 'LOCK_HELD':
    case 'GATE_BLOCKED':
    case 'NOTHING_TO_PROMOTE':
    case 'NOTHING_TO_ROLL_BACK':
    case 'ROLLBACK_UNSAFE':
    case 'APPROVAL_NOT_ALLOWED':
      return 409;
    default:
      return 400;
  }
}
