// A zip archive reader, enough for torch.save files and nothing more: central directory, local headers,
// zip64 (end record, locator and extra fields), stored or deflated members, CRC-32 checked. A corrupt or
// truncated archive fails with a FormatError naming the file and the member; encrypted members,
// multi-disk archives and other compression methods are an UnsupportedError. Members are read whole.
//
// Reads go through a ByteSource (a file descriptor or bytes in memory), so nothing but the central
// directory and the members asked for is ever read.

import * as fs from "node:fs";
import * as zlib from "node:zlib";
import { FormatError, UnsupportedError } from "../errors.ts";

// ---------------------------------------------------------------------------------------------------------
// Byte sources
// ---------------------------------------------------------------------------------------------------------

export interface ByteSource {
  size: number;
  /** Label for messages (the path as the caller gave it). */
  label: string;
  /** Absolute path, when a file. */
  file?: string;
  /** Exactly `length` bytes from `position`, in a fresh, 8-byte aligned array. */
  read(position: number, length: number): Uint8Array;
}

export function fileSource(fd: number, size: number, label: string, abs: string): ByteSource {
  return {
    size,
    label,
    file: abs,
    read(position, length) {
      if (position < 0 || length < 0 || position + length > size) {
        throw new FormatError(`${label}: read of ${length} bytes at ${position} runs past the file end (${size} bytes)`, { file: abs });
      }
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = fs.readSync(fd, out, done, Math.min(length - done, 1 << 30), position + done);
        if (n <= 0) throw new FormatError(`${label}: file ended while reading ${length} bytes at ${position}`, { file: abs });
        done += n;
      }
      return out;
    },
  };
}

export function bufferSource(bytes: Uint8Array, label: string): ByteSource {
  return {
    size: bytes.length,
    label,
    read(position, length) {
      if (position < 0 || length < 0 || position + length > bytes.length) {
        throw new FormatError(`${label}: read of ${length} bytes at ${position} runs past the end (${bytes.length} bytes)`, { file: label });
      }
      return bytes.slice(position, position + length);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Zip archive
// ---------------------------------------------------------------------------------------------------------

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export interface ZipArchive {
  src: ByteSource;
  entries: Map<string, ZipEntry>;
  /** Where member data may end: the start of the central directory. */
  dataEnd: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

function zipError(src: ByteSource, message: string, entry?: string): FormatError {
  const where = entry === undefined ? src.label : `${src.label}: member "${entry}"`;
  return new FormatError(`${where}: ${message}`, { file: src.file ?? src.label, ...(entry === undefined ? {} : { field: entry }) });
}

function u64(dv: DataView, at: number, src: ByteSource, what: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw zipError(src, `${what} ${v} is too large`);
  return Number(v);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads the central directory of the archive in `src` (at most `maxEntries` members). */
export function openZip(src: ByteSource, maxEntries: number): ZipArchive {
  if (src.size < 22) throw zipError(src, `${src.size} bytes is too short for a zip archive`);
  const head = src.read(0, Math.min(src.size, 8));
  // The end-of-central-directory record sits in the last 22 + up to 65535 (comment) bytes.
  const tailLen = Math.min(src.size, 22 + U16_MAX);
  const tailStart = src.size - tailLen;
  const tail = src.read(tailStart, tailLen);
  const tv = view(tail);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD && i + 22 + tv.getUint16(i + 20, true) <= tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    const isLocal = head.length >= 4 && view(head).getUint32(0, true) === SIG_LOCAL;
    throw zipError(src, isLocal ? "no end-of-central-directory record: the zip archive is truncated" : "not a zip archive (no end-of-central-directory record)");
  }
  const eocdPos = tailStart + eocd;
  const diskNo = tv.getUint16(eocd + 4, true);
  const cdDisk = tv.getUint16(eocd + 6, true);
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  let cdLimit = eocdPos;
  if (diskNo !== 0 || cdDisk !== 0) throw new UnsupportedError(`${src.label}: multi-disk zip archives are not supported`, { file: src.file ?? src.label });

  const locAt = eocd - 20;
  if (locAt >= 0 && tv.getUint32(locAt, true) === SIG_EOCD64_LOCATOR) {
    const z64Pos = u64(tv, locAt + 8, src, "zip64 end record offset");
    if (z64Pos + 56 > eocdPos - 20) throw zipError(src, `zip64 end record at ${z64Pos} lies outside the archive`);
    const z = view(src.read(z64Pos, 56));
    if (z.getUint32(0, true) !== SIG_EOCD64) throw zipError(src, `zip64 end record at ${z64Pos} has a bad signature`);
    count = u64(z, 32, src, "zip64 entry count");
    cdSize = u64(z, 40, src, "zip64 central directory size");
    cdOffset = u64(z, 48, src, "zip64 central directory offset");
    cdLimit = z64Pos;
  } else if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    throw zipError(src, "end record points to zip64 values but the zip64 end record is missing (truncated archive?)");
  }
  if (count > maxEntries) throw zipError(src, `${count} members exceed the limit of ${maxEntries}`);
  if (cdOffset + cdSize > cdLimit) {
    throw zipError(src, `central directory ${cdOffset}..${cdOffset + cdSize} runs past its end record at ${cdLimit} (truncated or corrupt archive)`);
  }
  if (count * 46 > cdSize) throw zipError(src, `central directory of ${cdSize} bytes cannot hold ${count} members`);

  const cd = src.read(cdOffset, cdSize);
  const cv = view(cd);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || cv.getUint32(p, true) !== SIG_CENTRAL) {
      throw zipError(src, `central directory entry ${i} at offset ${cdOffset + p} is corrupt (bad signature or truncated)`);
    }
    const flags = cv.getUint16(p + 8, true);
    const method = cv.getUint16(p + 10, true);
    const crc32 = cv.getUint32(p + 16, true);
    let compressedSize = cv.getUint32(p + 20, true);
    let size = cv.getUint32(p + 24, true);
    const nameLen = cv.getUint16(p + 28, true);
    const extraLen = cv.getUint16(p + 30, true);
    const commentLen = cv.getUint16(p + 32, true);
    let localHeaderOffset = cv.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cdSize) throw zipError(src, `central directory entry ${i} runs past the directory's end`);
    let name: string;
    try {
      name = decoder.decode(cd.subarray(p + 46, p + 46 + nameLen));
    } catch (err) {
      throw zipError(src, `central directory entry ${i} has a name that is not UTF-8`);
    }
    // zip64 extra field: the 64-bit values of exactly those fields whose 32-bit slot is 0xFFFFFFFF, in order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = cv.getUint16(e, true);
      const len = cv.getUint16(e + 2, true);
      if (e + 4 + len > extraEnd) throw zipError(src, `extra field runs past its entry`, name);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (what: string): number => {
          if (q + 8 > e + 4 + len) throw zipError(src, `zip64 extra field too short for the ${what}`, name);
          const v = u64(cv, q, src, `zip64 ${what}`);
          q += 8;
          return v;
        };
        if (size === U32_MAX) size = take("size");
        if (compressedSize === U32_MAX) compressedSize = take("compressed size");
        if (localHeaderOffset === U32_MAX) localHeaderOffset = take("local header offset");
      }
      e += 4 + len;
    }
    if (size === U32_MAX || compressedSize === U32_MAX || localHeaderOffset === U32_MAX) {
      throw zipError(src, "sizes marked zip64 but no zip64 extra field holds them", name);
    }
    if (entries.has(name)) throw zipError(src, "appears twice in the central directory", name);
    entries.set(name, { name, method, flags, crc32, compressedSize, size, localHeaderOffset });
    p = end;
  }
  return { src, entries, dataEnd: cdOffset };
}

let crcTable: Uint32Array | undefined;
/** CRC-32 as zip stores it (zlib's crc32 where this Node has it, else a table). */
export function crc32(bytes: Uint8Array): number {
  const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  if (typeof native === "function") return native(bytes) >>> 0;
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A member's uncompressed bytes (fresh, aligned), CRC-checked when `verifyCrc`. */
export function readZipEntry(zip: ZipArchive, entry: ZipEntry, verifyCrc: boolean): Uint8Array {
  const { src } = zip;
  const fail = (msg: string): never => {
    throw zipError(src, msg, entry.name);
  };
  if (entry.flags & 0x1) throw new UnsupportedError(`${src.label}: member "${entry.name}" is encrypted`, { file: src.file ?? src.label, field: entry.name });
  if (entry.localHeaderOffset + 30 > zip.dataEnd) fail(`local header at ${entry.localHeaderOffset} lies past the member data area (corrupt offset)`);
  const lh = view(src.read(entry.localHeaderOffset, 30));
  if (lh.getUint32(0, true) !== SIG_LOCAL) fail(`local header at ${entry.localHeaderOffset} has a bad signature`);
  const nameLen = lh.getUint16(26, true);
  const extraLen = lh.getUint16(28, true);
  const dataStart = entry.localHeaderOffset + 30 + nameLen + extraLen;
  if (dataStart + entry.compressedSize > zip.dataEnd) {
    fail(`data ${dataStart}..${dataStart + entry.compressedSize} runs past the member area ending at ${zip.dataEnd} (truncated or corrupt)`);
  }
  const localName = new TextDecoder("utf-8").decode(src.read(entry.localHeaderOffset + 30, nameLen));
  if (localName !== entry.name) fail(`local header names "${localName}" instead`);
  let data: Uint8Array;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.size) fail(`stored member has compressed size ${entry.compressedSize} but size ${entry.size}`);
    data = src.read(dataStart, entry.size);
  } else if (entry.method === 8) {
    const packed = src.read(dataStart, entry.compressedSize);
    let out: Buffer;
    try {
      out = zlib.inflateRawSync(packed, { maxOutputLength: Math.max(1, entry.size) });
    } catch (err) {
      throw new FormatError(`${src.label}: member "${entry.name}": deflate data is corrupt: ${(err as Error).message}`, {
        file: src.file ?? src.label,
        field: entry.name,
        cause: err,
      });
    }
    if (out.length !== entry.size) fail(`inflates to ${out.length} bytes, the directory says ${entry.size}`);
    data = new Uint8Array(out.length);
    data.set(out);
  } else {
    throw new UnsupportedError(`${src.label}: member "${entry.name}" uses compression method ${entry.method} (only stored and deflate are supported)`, {
      file: src.file ?? src.label,
      field: entry.name,
    });
  }
  if (verifyCrc) {
    const actual = crc32(data);
    if (actual !== entry.crc32) fail(`CRC-32 mismatch (stored ${hex(entry.crc32)}, computed ${hex(actual)}): the data is corrupt`);
  }
  return data;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}
