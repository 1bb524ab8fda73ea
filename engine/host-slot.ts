// A replaceable host with Deno's as the default, for the modules that reach outside the engine
// (engine/host.ts: kernels, threads, memory; src/methods/covariance-host.ts: corpus and cache).
// A page sets its own host first; under Deno the default module is imported on first use, by a
// computed specifier, so that a page's bundle does not carry Deno's files and threads, and lazily,
// not by a top-level await, which in a module this widely imported makes Deno's second and later
// Workers of a process hang while loading.

export interface HostSlot<T> {
  /** The host: the one set, else Deno's default (imported once). */
  ready(): Promise<T>;
  /** The host now, or null before one is set or resolved by ready(). */
  now(): T | null;
  /** Replaces the host. */
  set(host: T): void;
}

/**
 * A slot whose Deno default is the export `exportName` of `denoModule`; outside Deno, ready()
 * without a host set fails with `missing`.
 */
export function hostSlot<T>(denoModule: URL, exportName: string, missing: string): HostSlot<T> {
  let current: T | null = null;
  let denoDefault: Promise<T> | null = null;
  return {
    async ready() {
      if (current) return current;
      if (typeof Deno === "undefined") throw new Error(missing);
      denoDefault ??= import(denoModule.href).then((m: Record<string, unknown>) => {
        if (!(exportName in m)) throw new Error(`${denoModule.href} exports no ${exportName}`);
        return m[exportName] as T;
      });
      const host = await denoDefault;
      current ??= host;
      return current;
    },
    now: () => current,
    set(host) {
      current = host;
    },
  };
}
