import { describe, expect, it } from 'vitest';
import { crc32, crc32Portable, formatCrc } from '../../src/store/crc.js';

describe('crc32', () => {
  it('matches the IEEE check value and agrees between the native and portable forms', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    for (const text of ['', 'chartd', 'héllo wörld ✓', '{"seq":1,"writes":[]}']) {
      expect(crc32Portable(text)).toBe(crc32(text));
      expect(crc32Portable(Buffer.from(text))).toBe(crc32(text));
    }
    expect(formatCrc('')).toBe('00000000');
  });
});
