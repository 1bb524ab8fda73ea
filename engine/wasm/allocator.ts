// Host-side allocator for the WASM backend's linear memory: 64-byte aligned blocks in size
// classes (64-byte steps up to 4 KiB, then 8 classes per power of two, so at most 12.5% waste),
// a free list per class, bump allocation with memory.grow otherwise. Shapes that vary a little
// (growing anchor sets, sequential edits) share classes, and a block of a class up to twice as
// large is reused before the memory grows, so varying shapes do not leak memory into free lists
// no later request fits. The kernels never allocate; they only see byte offsets.

const ALIGN = 64;
const PAGE = 65536;
/** Low memory reserved for AssemblyScript's static data. */
export const HEAP_BASE = 1 << 20;
/** wasm32 ceiling: 65536 pages. */
export const MAX_BYTES = 65536 * PAGE;

const STEPS_PER_DOUBLING = 8;

/** The block size serving a request of `bytes`. */
export function sizeClass(bytes: number): number {
  const aligned = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  if (aligned <= 4096) return aligned;
  const base = 2 ** Math.floor(Math.log2(aligned));
  const step = base / STEPS_PER_DOUBLING;
  return Math.ceil(aligned / step) * step;
}

/** The next larger class after `size`. */
function nextClass(size: number): number {
  return sizeClass(size + 1);
}

export class LinearAllocator {
  #top = HEAP_BASE;
  #free = new Map<number, number[]>();
  /** Size of each handed-out block (it may be of a larger class than was asked for). */
  #blockSize = new Map<number, number>();
  /** The class each handed-out block was asked for: what liveBytes/peakBytes count. */
  #asked = new Map<number, number>();
  #live = 0;
  #peak = 0;

  constructor(private readonly memory: WebAssembly.Memory) {}

  /** Returns the byte offset of a block of at least `bytes` bytes. */
  alloc(bytes: number): number {
    const size = sizeClass(bytes);
    // The exact class first, then classes up to twice as large.
    for (let c = size; c <= 2 * size; c = nextClass(c)) {
      const reuse = this.#free.get(c);
      if (reuse && reuse.length > 0) {
        const offset = reuse.pop()!;
        this.#blockSize.set(offset, c);
        this.#asked.set(offset, size);
        this.#live += size;
        this.#peak = Math.max(this.#peak, this.#live);
        return offset;
      }
    }
    const offset = this.#top;
    const end = offset + size;
    if (end > MAX_BYTES) {
      throw new RangeError(
        `WASM backend out of memory: ${bytes} bytes requested, ${this.#live} live, ` +
          `wasm32 limit is ${MAX_BYTES} bytes`,
      );
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // Grow geometrically to keep the number of grows (and view re-creations) small.
      const want = Math.min(MAX_BYTES, Math.max(end, Math.floor(have * 1.25)));
      this.memory.grow(Math.ceil((want - have) / PAGE));
    }
    this.#top = end;
    this.#blockSize.set(offset, size);
    this.#asked.set(offset, size);
    this.#live += size;
    this.#peak = Math.max(this.#peak, this.#live);
    return offset;
  }

  release(offset: number): void {
    const size = this.#blockSize.get(offset);
    if (size === undefined) throw new RangeError(`release of an unknown block at ${offset}`);
    this.#blockSize.delete(offset);
    this.#live -= this.#asked.get(offset)!;
    this.#asked.delete(offset);
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, list = []);
    list.push(offset);
  }

  /** Bytes asked for (rounded to their size class) and not released. */
  get liveBytes(): number {
    return this.#live;
  }

  /** Most bytes live at once since creation or resetPeak(). */
  get peakBytes(): number {
    return this.#peak;
  }

  resetPeak(): void {
    this.#peak = this.#live;
  }

  /** Bytes of linear memory the bump pointer has reached (live, free-listed and static). */
  get topBytes(): number {
    return this.#top;
  }
}
