// Host-side allocator for the WASM backend's linear memory: 64-byte aligned blocks, exact-size
// free lists for reuse (training loops repeat the same shapes), bump allocation with
// memory.grow otherwise. The kernels never allocate; they only see byte offsets.

const ALIGN = 64;
const PAGE = 65536;
/** Low memory reserved for AssemblyScript's static data. */
export const HEAP_BASE = 1 << 20;
/** wasm32 ceiling: 65536 pages. */
export const MAX_BYTES = 65536 * PAGE;

export class LinearAllocator {
  #top = HEAP_BASE;
  #free = new Map<number, number[]>();
  #live = 0;
  #peak = 0;

  constructor(private readonly memory: WebAssembly.Memory) {}

  /** Returns the byte offset of a block of at least `bytes` bytes. */
  alloc(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    const reuse = this.#free.get(size);
    if (reuse && reuse.length > 0) {
      this.#live += size;
      this.#peak = Math.max(this.#peak, this.#live);
      return reuse.pop()!;
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
    this.#live += size;
    this.#peak = Math.max(this.#peak, this.#live);
    return offset;
  }

  release(offset: number, bytes: number): void {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, list = []);
    list.push(offset);
    this.#live -= size;
  }

  /** Bytes in blocks handed out and not released. */
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
