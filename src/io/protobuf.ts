// The protocol buffers wire format, read without a schema: a message is a list of fields, each a
// number and a value (a varint, a 4- or 8-byte fixed value, or length-delimited bytes that may be
// a string or a nested message). Enough to read a SentencePiece model; every length is checked.

export interface ProtoField {
  readonly field: number;
  /** Wire type: 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit. */
  readonly wire: 0 | 1 | 2 | 5;
  /** A varint as a signed 64-bit integer (proto2's int32 -1 is ten bytes of varint). */
  readonly int?: bigint;
  /** The bytes of a length-delimited or fixed value. */
  readonly bytes?: Uint8Array;
}

/** A message's bytes are not the wire format. */
export class ProtobufError extends Error {
  override name = "ProtobufError";
}

/** The fields of one message, in the order written. */
export function protoFields(bytes: Uint8Array): ProtoField[] {
  let pos = 0;
  const varint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= bytes.length) throw new ProtobufError("a varint runs past the end");
      const b = bytes[pos++];
      value |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asIntN(64, value);
    }
    throw new ProtobufError(`a varint at byte ${pos} is longer than ten bytes`);
  };
  const take = (n: number): Uint8Array => {
    if (n > bytes.length - pos) throw new ProtobufError(`a field of ${n} bytes runs past the end`);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const out: ProtoField[] = [];
  while (pos < bytes.length) {
    const tag = varint();
    const field = Number(tag >> 3n), wire = Number(tag & 7n);
    if (field < 1) throw new ProtobufError(`field number ${field} at byte ${pos}`);
    if (wire === 0) out.push({ field, wire, int: varint() });
    else if (wire === 1) out.push({ field, wire, bytes: take(8) });
    else if (wire === 5) out.push({ field, wire, bytes: take(4) });
    else if (wire === 2) {
      const n = varint();
      if (n < 0n || n > BigInt(bytes.length)) throw new ProtobufError(`a length of ${n} bytes`);
      out.push({ field, wire, bytes: take(Number(n)) });
    } else throw new ProtobufError(`wire type ${wire} (groups are not read) at byte ${pos}`);
  }
  return out;
}

/** A message's fields read by number: the last value of a scalar, every value of a repeated one. */
export class ProtoMessage {
  readonly fields: readonly ProtoField[];
  constructor(bytes: Uint8Array) {
    this.fields = protoFields(bytes);
  }
  #last(field: number, wire: number): ProtoField | undefined {
    const all = this.fields.filter((f) => f.field === field);
    const last = all[all.length - 1];
    if (last && last.wire !== wire) {
      throw new ProtobufError(`field ${field} has wire type ${last.wire}, not ${wire}`);
    }
    return last;
  }
  int(field: number, fallback: number): number {
    const f = this.#last(field, 0);
    return f ? Number(f.int) : fallback;
  }
  bool(field: number, fallback: boolean): boolean {
    const f = this.#last(field, 0);
    return f ? f.int !== 0n : fallback;
  }
  float(field: number, fallback: number): number {
    const f = this.#last(field, 5);
    return f ? new DataView(f.bytes!.buffer, f.bytes!.byteOffset, 4).getFloat32(0, true) : fallback;
  }
  string(field: number, fallback: string): string {
    const f = this.#last(field, 2);
    if (!f) return fallback;
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(f.bytes);
    } catch {
      throw new ProtobufError(`field ${field} is not valid UTF-8`);
    }
  }
  message(field: number): ProtoMessage {
    return new ProtoMessage(this.#last(field, 2)?.bytes ?? new Uint8Array());
  }
  messages(field: number): ProtoMessage[] {
    return this.fields.filter((f) => f.field === field).map((f) => {
      if (f.wire !== 2) throw new ProtobufError(`field ${field} has wire type ${f.wire}, not 2`);
      return new ProtoMessage(f.bytes!);
    });
  }
}
