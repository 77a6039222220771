// The one error type every layer throws. It carries a gRPC status code so that the ttrpc
// server boundary can map it to the wire in a single place (see ttrpc/status.ts), and
// containerd can branch on NotFound / AlreadyExists / FailedPrecondition / Unimplemented.
// Leaf module: imports nothing from the project.

export enum Code {
  OK = 0,
  Cancelled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

export class CodedError extends Error {
  override readonly name = 'CodedError';
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isCodedError = (err: unknown): err is CodedError => err instanceof CodedError;

export const invalidArgument = (message: string, cause?: unknown) =>
  new CodedError(Code.InvalidArgument, message, { cause });
export const notFound = (message: string, cause?: unknown) =>
  new CodedError(Code.NotFound, message, { cause });
export const alreadyExists = (message: string, cause?: unknown) =>
  new CodedError(Code.AlreadyExists, message, { cause });
export const failedPrecondition = (message: string, cause?: unknown) =>
  new CodedError(Code.FailedPrecondition, message, { cause });
export const unimplemented = (message: string, cause?: unknown) =>
  new CodedError(Code.Unimplemented, message, { cause });
export const unavailable = (message: string, cause?: unknown) =>
  new CodedError(Code.Unavailable, message, { cause });
export const deadlineExceeded = (message: string, cause?: unknown) =>
  new CodedError(Code.DeadlineExceeded, message, { cause });
export const internal = (message: string, cause?: unknown) =>
  new CodedError(Code.Internal, message, { cause });

/**
 * The gRPC code for a failed filesystem call, by errno: what the user must change differs
 * (free space, fix permissions, point the config elsewhere), so a raw fs error must never reach
 * the wire as Unknown. Errnos not listed are Internal.
 */
const FS_CODES: Record<string, Code> = {
  ENOENT: Code.NotFound,
  EEXIST: Code.AlreadyExists,
  EACCES: Code.PermissionDenied,
  EPERM: Code.PermissionDenied,
  ENOSPC: Code.ResourceExhausted,
  EDQUOT: Code.ResourceExhausted,
  EMFILE: Code.ResourceExhausted,
  ENFILE: Code.ResourceExhausted,
  ENOMEM: Code.ResourceExhausted,
  EROFS: Code.FailedPrecondition,
  ENOTDIR: Code.FailedPrecondition,
  EISDIR: Code.FailedPrecondition,
  ELOOP: Code.FailedPrecondition,
  ENAMETOOLONG: Code.InvalidArgument,
};

/**
 * Wraps an error from node:fs as a CodedError saying what was being done (`what`, e.g. "save the
 * state of container c1 in /run/micrun/containers/c1"); a CodedError passes through unchanged.
 */
export function fsError(what: string, err: unknown): CodedError {
  if (isCodedError(err)) return err;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  const code = (errno ? FS_CODES[errno] : undefined) ?? Code.Internal;
  return new CodedError(code, `cannot ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
