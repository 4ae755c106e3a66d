// One HTTP request and its whole answer, body included, bounded by a timer of our own that is held
// until the answer is read: it aborts the request and also settles the call, so the caller goes on
// even if fetch misses the abort (undici follows a caller's signal through a weak reference, and
// an unreferenced AbortSignal.timeout() can be collected before it fires: nodejs/undici#4068).

export class DeadlineError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'DeadlineError';
  }
}

export interface HttpAnswer {
  status: number;
  statusText: string;
  text: string;
}

/** Rejects with DeadlineError past `timeoutMs`, or with fetch's own error for a failed connection. */
export async function exchange(url: string, init: Omit<RequestInit, 'signal'>, timeoutMs: number): Promise<HttpAnswer> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new DeadlineError(timeoutMs);
      abort.abort(err);
      reject(err);
    }, timeoutMs);
  });
  const answer = (async () => {
    const res = await fetch(url, { ...init, signal: abort.signal });
    return { status: res.status, statusText: res.statusText, text: await res.text() };
  })();
  answer.catch(() => undefined); // when the deadline wins, this one's rejection is expected
  try {
    return await Promise.race([answer, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
