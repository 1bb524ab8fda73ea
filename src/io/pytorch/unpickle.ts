// A restricted reader of Python pickles, for the data.pkl of a torch.save archive. A pickle is a
// program for a small stack machine; Python's own unpickler runs it, importing whatever module
// and calling whatever function it names, so loading an untrusted pickle can run any code. This
// reader interprets the opcodes that plain data uses and calls nothing: a global it meets is only
// a name, and the caller's `reduce` decides what a call of an allowed name builds (anything else
// is refused). Protocols 2 to 5. Integers come back as numbers, or as bigints past 2^53.

/** A Python global (module.name): a function or class named by the pickle, never imported. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  toString(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A Python tuple (a list is a plain array; a dict a Map). */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** A pickle this reader cannot or will not read. */
export class PickleError extends Error {
  override name = "PickleError";
}

/** The bytes end before the pickle does (a reader of a file's prefix may read more and retry). */
export class PickleEndError extends PickleError {
  override name = "PickleEndError";
}

export interface UnpickleHooks {
  /** What the call `fn(...args)` builds; throw (PickleError) to refuse it. */
  reduce(fn: PyGlobal, args: readonly unknown[]): unknown;
  /** The object a persistent id stands for (torch: a storage in the archive). */
  persistentLoad(pid: unknown): unknown;
  /** Applies BUILD's `state` to `obj` (torch: an OrderedDict's `_metadata`, dropped). */
  build(obj: unknown, state: unknown): void;
}

const MARK = Symbol("mark");

/**
 * Runs the pickle that starts at `start` in `bytes` and returns the object it builds and the
 * offset just past its STOP (a file may hold several pickles one after another).
 */
export function unpickle(
  bytes: Uint8Array,
  hooks: UnpickleHooks,
  start = 0,
): { value: unknown; end: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder("utf-8", { fatal: true });
  const latin1 = new TextDecoder("latin1");
  let pos = start;
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  const need = (n: number) => {
    if (pos + n > bytes.length) throw new PickleEndError(`the pickle ends early (at byte ${pos})`);
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = () => bytes[need(1)];
  const u16 = () => dv.getUint16(need(2), true);
  const u32 = () => dv.getUint32(need(4), true);
  const u64 = () => {
    const v = dv.getBigUint64(need(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleError("a length is too large");
    return Number(v);
  };
  const raw = (n: number) => bytes.subarray(need(n), pos);
  const utf8 = (b: Uint8Array) => {
    try {
      return text.decode(b);
    } catch {
      throw new PickleError(`a string before byte ${pos} is not valid UTF-8`);
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new PickleEndError("the pickle ends inside a text line");
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) throw new PickleError(`stack underflow at byte ${pos}`);
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) throw new PickleError(`stack underflow at byte ${pos}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) throw new PickleError(`no mark on the stack at byte ${pos}`);
    const items = stack.splice(at);
    return items.slice(1);
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    if (!(dict instanceof Map)) throw new PickleError("SETITEM on something not a dict");
    for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i], items[i + 1]);
  };
  const append = (list: unknown, items: unknown[]) => {
    if (!Array.isArray(list)) throw new PickleError("APPEND on something not a list");
    list.push(...items);
  };
  const fromMemo = (k: number) => {
    if (!memo.has(k)) throw new PickleError(`memo entry ${k} is not set`);
    return memo.get(k);
  };
  // A number when it is exact as one, else a bigint (torch's legacy magic number is 80 bits).
  const signedLong = (b: Uint8Array): number | bigint => {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length > 0 && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    const safe = v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER);
    return safe ? Number(v) : v;
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw new PickleError("pickle protocol above 5");
        break;
      case 0x95: // FRAME: a length prefix only
        u64();
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
      case 0x89: // NEWFALSE
        stack.push(op === 0x88);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(dv.getInt32(need(4), true));
        break;
      case 0x8a: // LONG1
        stack.push(signedLong(raw(u8())));
        break;
      case 0x47: // BINFLOAT (big-endian)
        stack.push(dv.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
      case 0x8c: // SHORT_BINUNICODE
      case 0x8d: // BINUNICODE8
        stack.push(utf8(raw(op === 0x8c ? u8() : op === 0x58 ? u32() : u64())));
        break;
      case 0x55: // SHORT_BINSTRING
      case 0x54: // BINSTRING
        stack.push(latin1.decode(raw(op === 0x55 ? u8() : u32())));
        break;
      case 0x43: // SHORT_BINBYTES
      case 0x42: // BINBYTES
      case 0x8e: // BINBYTES8
        stack.push(raw(op === 0x43 ? u8() : op === 0x42 ? u32() : u64()).slice());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: { // TUPLE3
        const n = op - 0x84;
        if (stack.length < n) throw new PickleError(`stack underflow at byte ${pos}`);
        stack.push(new PyTuple(stack.splice(stack.length - n)));
        break;
      }
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x64: { // DICT
        const d = new Map();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(fromMemo(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(fromMemo(u32()));
        break;
      case 0x63: // GLOBAL: "module\nname\n"
        stack.push(new PyGlobal(line(), line()));
        break;
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          throw new PickleError("STACK_GLOBAL without two names");
        }
        stack.push(new PyGlobal(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(), fn = pop();
        if (!(fn instanceof PyGlobal) || !(args instanceof PyTuple)) {
          throw new PickleError("REDUCE of something not a named function");
        }
        stack.push(hooks.reduce(fn, args.items));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        hooks.build(top(), state);
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop()));
        break;
      default:
        throw new PickleError(
          `opcode 0x${op.toString(16).padStart(2, "0")} at byte ${pos - 1} is not read ` +
            "(not plain data)",
        );
    }
  }
}
