import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../lib/byte-budget.js';
import { withBody } from '../lib/http-body.js';

/** A request that asks for 100-continue, and a response whose go-ahead fails as on a broken socket. */
function brokenContinue(): { req: IncomingMessage; res: ServerResponse } {
  const req = Object.assign(new EventEmitter(), { headers: { 'content-length': '10', expect: '100-continue' } }) as unknown as IncomingMessage;
  const res = Object.assign(new EventEmitter(), {
    destroyed: false,
    writeContinue() {
      throw new Error('write EPIPE');
    },
  }) as unknown as ServerResponse;
  return { req, res };
}

describe('request body budget', () => {
  it('gives a body\'s reserved bytes back when receiving it fails before a byte arrives', async () => {
    const budget = new ByteBudget(100);
    const { req, res } = brokenContinue();
    await expect(withBody(req, res, 50, budget, async () => 'used')).rejects.toThrow('write EPIPE');
    expect(budget.reserved).toBe(0);
  });
});
