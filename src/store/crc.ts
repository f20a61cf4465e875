// CRC-32 (IEEE) of text or bytes: node:zlib's native crc32 where Node has it (20.15+), a table otherwise.
import * as zlib from 'node:zlib';

type Crc32 = (data: string | Uint8Array) => number;

const native = (zlib as { crc32?: Crc32 }).crc32;

let table: Uint32Array | undefined;

function buildTable(): Uint32Array {
  const built = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    built[n] = c >>> 0;
  }
  return built;
}

function crc32Portable(data: string | Uint8Array): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  table ??= buildTable();
  let crc = 0xffffffff;
  for (const byte of bytes) crc = table[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Text is checksummed as its UTF-8 bytes, so a line read back from disk gives the same value. */
export const crc32: Crc32 = native ?? crc32Portable;

/** The eight-hex-digit form used in journal lines. */
export function formatCrc(data: string | Uint8Array): string {
  return crc32(data).toString(16).padStart(8, '0');
}

export { crc32Portable };
