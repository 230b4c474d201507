// Errors of @kubernetes/client-node, read without leaking what they carry (ApiException messages hold
// whole response bodies and headers).

/** HTTP status of an error thrown by the client (ApiException.code, or Watch's statusCode), if any. */
export function statusCodeOf(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { code, statusCode } = e as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'number') return code;
  if (typeof statusCode === 'number') return statusCode;
  return undefined;
}

/** A short, secret-free description of a client error: the API server's message and the HTTP status. */
export function describeError(e: unknown): string {
  const code = statusCodeOf(e);
  const body = (e as { body?: unknown })?.body;
  let message: string | undefined;
  if (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { message?: unknown }).message === 'string'
  ) {
    message = (body as { message: string }).message;
  } else if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // not JSON
    }
  }
  if (!message) message = e instanceof Error ? (e.message.split('\n')[0] ?? e.message) : String(e);
  return code !== undefined && !message.includes(String(code)) ? `HTTP ${code}: ${message}` : message;
}
