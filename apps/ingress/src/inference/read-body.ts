import type { IncomingMessage } from 'node:http';
import { OpenAiRequestError } from './openai-request.js';

/** The request body as JSON, at most `limit` bytes (413 past it, 400 when it is not JSON). */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new OpenAiRequestError(413, `the request body is larger than ${limit} bytes`, null, 'body_too_large'));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.once('error', () => reject(new OpenAiRequestError(400, 'the request body could not be read', null, null)));
    req.once('end', () => {
      if (size > limit) return;
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      } catch {
        reject(new OpenAiRequestError(400, 'the request body is not valid JSON', null, 'invalid_json'));
      }
    });
  });
}
