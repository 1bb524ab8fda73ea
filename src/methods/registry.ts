// Every editing method scripts/edit.ts and scripts/compare.ts can run, by --method name.

import type { EditMethod, Hparams } from "../edit/method.ts";
import { kneMethod } from "../kne/method.ts";

export const METHODS: ReadonlyMap<string, EditMethod<Hparams>> = new Map(
  ([kneMethod] as unknown as EditMethod<Hparams>[]).map((m) => [m.name, m]),
);

export function methodByName(name: string): EditMethod<Hparams> {
  const m = METHODS.get(name);
  if (!m) {
    throw new Error(`--method must be one of ${[...METHODS.keys()].join(", ")}, got "${name}"`);
  }
  return m;
}
