// Every editing method scripts/edit.ts and scripts/compare.ts can run, by --method name.

import type { EditMethod, Hparams } from "../edit/method.ts";
import { EditInputError } from "../edit/targets.ts";
import { kneMethod, knePaperMethod } from "../kne/method.ts";
import { ftlMethod, ftmMethod } from "./ft/method.ts";
import { knMethod } from "./kn/method.ts";
import { memitMethod } from "./memit/method.ts";
import { romeMethod } from "./rome/method.ts";

/** Every editing method by its name (EditOptions.method), in table order. */
export const METHODS: ReadonlyMap<string, EditMethod<Hparams>> = new Map(
  ([
    kneMethod,
    knePaperMethod,
    ftlMethod,
    ftmMethod,
    knMethod,
    romeMethod,
    memitMethod,
  ] as unknown as EditMethod<
    Hparams
  >[]).map((m) => [m.name, m]),
);

/** Table labels (the paper's spelling). */
export const METHOD_LABELS: Readonly<Record<string, string>> = {
  kne: "KNE",
  "kne-paper": "KNE (paper)",
  "ft-l": "FT-L",
  "ft-m": "FT-M",
  kn: "KN",
  rome: "ROME",
  memit: "MEMIT",
};

/**
 * The method of a name; an unknown name is an EditInputError naming it and the methods (the CLI
 * checks --method before this, as a UsageError).
 */
export function methodByName(name: string): EditMethod<Hparams> {
  const m = METHODS.get(name);
  if (!m) {
    throw new EditInputError(
      `unknown editing method ${JSON.stringify(name)}; the methods are ${
        [...METHODS.keys()].join(", ")
      }`,
    );
  }
  return m;
}
