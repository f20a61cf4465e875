// The instance quota: counted from the store once per chart, then as creations take and give back places.
import { describe, expect, it } from 'vitest';
import { InstanceQuotaReached } from '../../src/errors.js';
import { InstanceQuota } from '../../src/runtime/quota.js';

describe('InstanceQuota', () => {
  it('reads what a chart has stored on its first creation only, and refuses the creation past the limit', async () => {
    const reads: string[] = [];
    const quota = new InstanceQuota(3, (chart) => {
      reads.push(chart);
      return Promise.resolve(chart === 'full' ? 3 : 1);
    });
    expect(await quota.take('gates')).toBeUndefined();
    expect(await quota.take('gates')).toBeUndefined();
    const refused = await quota.take('gates');
    expect(refused).toBeInstanceOf(InstanceQuotaReached);
    expect(refused).toMatchObject({ status: 409, code: 'instance_quota', message: expect.stringContaining('chart gates has 3 instances') });
    expect((await quota.take('full'))?.message).toBe('chart full has 3 instances, the most this server allows (--max-instances 3); start chartd serve with a larger --max-instances to create more');
    expect(reads).toEqual(['gates', 'full']);
  });

  it('gives a place back when the creation that took it was never stored', async () => {
    const quota = new InstanceQuota(1, () => Promise.resolve(0));
    expect(await quota.take('gates')).toBeUndefined();
    expect(await quota.take('gates')).toBeInstanceOf(InstanceQuotaReached);
    quota.giveBack('gates');
    expect(await quota.take('gates')).toBeUndefined();
  });
});
