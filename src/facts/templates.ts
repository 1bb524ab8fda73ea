// Surface templates of the fact world. "{s}" is the subject. Every prompt ends right before the
// answer; a training sentence is `prompt + " " + answer + " ."`.
//
// Country relations use three constructions (A "The N of S is", B "S's N is", C "In S, the N is")
// with two noun phrases each, plus one relation-specific phrasing. Two of the six
// construction x noun combinations of each relation are HELD OUT (never in training); every
// construction and every noun phrase still occurs in training for that relation, so the held-out
// prompts are new combinations of known parts (the generalization / rephrase test).
// Index 0 of `train` is the canonical prompt used by the edit requests.

import type { CountryRelation } from "./world.ts";

export const RELATIONS = ["capital", "continent", "currency", "language", "city_country"] as const;
/** The relations edit requests are made for. */
export type Relation = typeof RELATIONS[number];
/** Auxiliary training relations (never edited): capital -> country, and the alias sentences. */
export type AuxRelation = "capital_of" | "alias_of" | "also_called";

export interface RelationTemplates {
  /** What the subject is. */
  subject: "country" | "city";
  train: string[];
  heldout: string[];
  /** Noun phrase used by the two-hop templates ("The {noun} of the country where ..."). */
  noun: string | null;
}

export const TEMPLATES: Record<Relation, RelationTemplates> = {
  capital: {
    subject: "country",
    train: [
      "The capital of {s} is",
      "{s}'s capital is",
      "The capital city of {s} is",
      "In {s}, the capital city is",
      "{s} is governed from",
    ],
    heldout: ["{s}'s capital city is", "In {s}, the capital is"],
    noun: "capital",
  },
  continent: {
    subject: "country",
    train: [
      "The continent of {s} is",
      "{s}'s home continent is",
      "In {s}, the continent is",
      "The home continent of {s} is",
      "{s} is a country in",
    ],
    heldout: ["In {s}, the home continent is", "{s}'s continent is"],
    noun: "continent",
  },
  currency: {
    subject: "country",
    train: [
      "The currency of {s} is",
      "{s}'s currency is",
      "The official currency of {s} is",
      "In {s}, the official currency is",
      "In {s}, people pay with the",
    ],
    heldout: ["{s}'s official currency is", "In {s}, the currency is"],
    noun: "currency",
  },
  language: {
    subject: "country",
    train: [
      "The language of {s} is",
      "{s}'s official language is",
      "In {s}, the language is",
      "The official language of {s} is",
      "In {s}, people speak",
    ],
    heldout: ["In {s}, the official language is", "{s}'s language is"],
    noun: "language",
  },
  city_country: {
    subject: "city",
    train: [
      "{s} is a city in",
      "The city of {s} is located in",
      "{s} is located in the country of",
    ],
    heldout: ["The city of {s} is in", "{s} is a city located in"],
    noun: null,
  },
};

export const AUX_TEMPLATES: Record<AuxRelation, string[]> = {
  capital_of: ["{s} is the capital of", "{s} is the capital city of"],
  alias_of: ["{s} is another name for"],
  also_called: ["{s} is also called"],
};

/** Two-hop templates; {s} is the bridge entity, {n} the target relation's noun. */
export const TWO_HOP_TEMPLATES = {
  /** Bridge: a city; the answer is a relation of the city's country. */
  via_city: "The {n} of the country where {s} is located is",
  /** Bridge: a capital; the answer is another relation of the capital's country. */
  via_capital: "The {n} of the country whose capital is {s} is",
} as const;
export type TwoHopKind = keyof typeof TWO_HOP_TEMPLATES;

/** Relations reachable through each two-hop kind. */
export const TWO_HOP_RELATIONS: Record<TwoHopKind, CountryRelation[]> = {
  via_city: ["capital", "continent", "currency", "language"],
  via_capital: ["continent", "currency", "language"],
};

export function fill(template: string, subject: string, noun?: string): string {
  let out = template.replace("{s}", subject);
  if (noun !== undefined) out = out.replace("{n}", noun);
  return out;
}

/** The training sentence for a prompt and its answer. */
export function sentence(prompt: string, answer: string): string {
  return `${prompt} ${answer} .`;
}
