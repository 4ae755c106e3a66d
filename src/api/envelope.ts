// The response envelope of CONTRACT section 2, in one place.
import type { Request, Response } from 'express';

const now = () => Math.floor(Date.now() / 1000);

export function sendOk(res: Response, detail?: unknown, status = 200) {
  const body: Record<string, unknown> = { code: 0, msg: 'success' };
  if (detail !== undefined) body.detail = detail;
  body.timestamp = now();
  res.status(status).json(body);
}

export function sendError(req: Request, res: Response, status: number, errMsg: string, details?: unknown) {
  const body: Record<string, unknown> = { code: status, errMsg, path: req.originalUrl.split('?')[0] };
  if (details !== undefined) body.details = details;
  body.timestamp = now();
  res.status(status).json(body);
}
