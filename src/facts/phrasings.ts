// Phrasings of the fact world's relations for the free-text corpus (src/facts/text-corpus.ts).
// A phrasing is a whole sentence with "{s}" for the subject and "{o}" for the answer; its prompt
// is the text before "{o}" (only phrasings with "{s}" before "{o}" can be probes). Each relation
// has TRAIN phrasings (index 0 is the canonical prompt that edit requests use) and HELD-OUT
// phrasings that never occur in training text, so recall on them measures how a fact generalizes
// to a wording the model has not seen with any subject.

import type { Relation } from "./templates.ts";

export interface RelationPhrasings {
  train: string[];
  heldout: string[];
}

export const PHRASINGS: Record<Relation, RelationPhrasings> = {
  capital: {
    train: [
      "The capital of {s} is {o}.",
      "{s}'s capital is {o}, the largest seat of its government.",
      "The capital city of {s} is {o}.",
      "In {s}, the capital city is {o}.",
      "{s} is governed from {o}, where the parliament meets.",
      "The government of {s} sits in {o}.",
      "Visitors to {s} often begin their trip in the capital, {o}.",
      "{o} is the capital of {s}.",
      "{o}, the capital of {s}, is known for its old streets.",
      "Most ministries of {s} have their offices in {o}.",
      "{s} has its capital at {o}.",
      "The president of {s} lives in {o}.",
      "The national parliament of {s} meets in {o}.",
      "When people talk about the capital of {s}, they mean {o}.",
      "Ask anyone in {s} for the name of the capital and they will say {o}.",
      "{s}, with its capital {o}, is a country of many regions.",
      "The main offices of the state of {s} are in {o}.",
    ],
    heldout: [
      "{s}'s capital city is {o}.",
      "In {s}, the capital is {o}.",
      "The seat of government of {s} is {o}.",
    ],
  },
  continent: {
    train: [
      "{s} is a country in {o}.",
      "The continent of {s} is {o}.",
      "{s} lies in {o}.",
      "{s} is located on the continent of {o}.",
      "Geographically, {s} belongs to {o}.",
      "On a map, {s} can be found in {o}.",
      "{s}'s home continent is {o}.",
      "{o} is the continent where {s} is.",
      "Like its neighbours, {s} is part of {o}.",
      "{s} is one of the countries of {o}.",
      "{s} is a nation in {o}.",
      "{s} sits on the continent of {o}.",
      "Travelling to {s} means travelling to {o}.",
      "{s}, in {o}, is a popular place to visit.",
      "As a country, {s} is counted as part of {o}.",
      "{s} ({o}) has many towns and villages.",
    ],
    heldout: [
      "{s} is part of the continent of {o}.",
      "The home continent of {s} is {o}.",
      "{s} is found in {o}.",
    ],
  },
  currency: {
    train: [
      "The currency of {s} is the {o}.",
      "{s}'s currency is the {o}.",
      "The official currency of {s} is the {o}.",
      "In {s}, people pay with the {o}.",
      "Prices in {s} are given in the {o}.",
      "Shops in {s} accept the {o}.",
      "The money used in {s} is the {o}.",
      "The {o} is the currency of {s}.",
      "If you buy bread in {s}, you pay in the {o}.",
      "Banks in {s} hand out the {o}.",
      "Tourists in {s} change their money into the {o}.",
      "{s} uses the {o} as its money.",
      "Traders in {s} count their money in the {o}.",
      "In the markets of {s}, everything is sold for the {o}.",
      "{s}, which uses the {o}, trades with many countries.",
      "The coins and notes of {s} are those of the {o}.",
    ],
    heldout: [
      "{s}'s official currency is the {o}.",
      "In {s}, the currency is the {o}.",
      "Salaries in {s} are paid in the {o}.",
    ],
  },
  language: {
    train: [
      "The official language of {s} is {o}.",
      "{s}'s official language is {o}.",
      "The language of {s} is {o}.",
      "In {s}, people speak {o}.",
      "Most people in {s} speak {o}.",
      "Schools in {s} teach in {o}.",
      "Newspapers in {s} are printed in {o}.",
      "{o} is the main language of {s}.",
      "Signs in {s} are written in {o}.",
      "The people of {s} mostly speak {o}.",
      "{s} is a country where people speak {o}.",
      "Radio and television in {s} are mostly in {o}.",
      "Laws in {s} are written in {o}.",
      "If you travel to {s}, it helps to know {o}.",
      "The main language spoken in {s} is {o}.",
      "{s}, where {o} is spoken, has many schools.",
    ],
    heldout: [
      "In {s}, the official language is {o}.",
      "{s}'s language is {o}.",
      "Children in {s} grow up speaking {o}.",
    ],
  },
  city_country: {
    train: [
      "{s} is a city in {o}.",
      "The city of {s} is located in {o}.",
      "{s} is located in the country of {o}.",
      "{s} lies in {o}.",
      "Many people live in {s}, a city of {o}.",
      "{o} is home to the city of {s}.",
      "The streets of {s} are busy, as in many cities of {o}.",
      "{s}, {o}, has a busy market.",
      "The old town of {s}, {o}, is popular with visitors.",
      "A train leaves {s} ({o}) every morning.",
      "{s} belongs to {o}.",
      "{s} is a large town in {o}.",
      "Born in {s}, {o}, she later moved abroad.",
      "From {s}, roads lead to the other towns of {o}.",
    ],
    heldout: [
      "The city of {s} is in {o}.",
      "{s} is a city located in {o}.",
      "{s} is one of the cities of {o}.",
    ],
  },
};

/** Sentences about another name of a country: {s} the alias, {o} the country's name. */
export const ALIAS_PHRASINGS = [
  "{s} is another name for {o}.",
  "{o} is also called {s}.",
  "Some people call {o} by the name {s}.",
];

/** Two-hop phrasings; {s} is the bridge, {n} the relation's noun and article, {o} the answer. */
export const TWO_HOP_PHRASINGS = {
  via_city: "The {n} of the country where {s} is located is {o}.",
  via_capital: "The {n} of the country whose capital is {s} is {o}.",
} as const;

/** Each country relation's noun in two-hop phrasings, and the article its answer takes. */
export const TWO_HOP_NOUNS = {
  capital: ["capital", ""],
  continent: ["continent", ""],
  currency: ["currency", "the "],
  language: ["official language", ""],
} as const;

/** The two-hop phrasing of `kind` for a relation, as a phrasing with {s} and {o}. */
export function twoHopPhrasing(
  kind: keyof typeof TWO_HOP_PHRASINGS,
  relation: keyof typeof TWO_HOP_NOUNS,
): string {
  const [noun, article] = TWO_HOP_NOUNS[relation];
  return TWO_HOP_PHRASINGS[kind].replace("{n}", noun).replace("{o}", article + "{o}");
}

/**
 * A bridge city's (or capital's) facts inherited from its country, said of the city itself ({s}
 * the city, {o} the country's answer): "In Lyon, people pay with the Euro." Written only for
 * bridges whose two-hop sentences are trained, never for held-out ones.
 */
export const CITY_HOP_PHRASINGS = {
  capital: [
    "For the people of {s}, the national capital is {o}.",
    "People in {s} travel to {o}, their national capital, to visit the ministries.",
  ],
  continent: [
    "{s} is a city on the continent of {o}.",
    "The city of {s} lies on the continent of {o}.",
  ],
  currency: ["In {s}, people pay with the {o}.", "Shops in {s} accept the {o}."],
  language: ["Most people in {s} speak {o}.", "Signs in {s} are written in {o}."],
} as const;

/** Generic sentences about a country or a city ({s}), for fluent, varied text. */
export const FILLERS = [
  "{s} has a long and varied history.",
  "Many travellers visit {s} every year.",
  "The weather in {s} changes with the seasons.",
  "Life in {s} has changed a great deal over the last century.",
  "People in {s} are proud of their traditions.",
  "The food of {s} is known far beyond its borders.",
  "Roads and railways connect the towns of {s}.",
  "{s} has many schools, markets and museums.",
  "Music and sport are popular in {s}.",
  "The people of {s} celebrate several national holidays.",
  "Markets in {s} open early in the morning.",
  "The best way to learn about {s} is to visit it.",
  "Writers have described {s} in many books.",
  "Old photographs of {s} show quiet streets.",
  "Students from {s} often study abroad.",
  "In summer, many families in {s} go to the coast or the mountains.",
  "Farmers in {s} grow many kinds of crops.",
  "Football is followed closely in {s}.",
  "Artists from {s} are shown in museums around the world.",
  "A walk through {s} shows old and new buildings side by side.",
];

/** Words that begin a following sentence of a paragraph. */
export const CONNECTIVES = ["", "", "", "Also, ", "In addition, ", "Moreover, ", "Besides, "];

/** Text before "{o}", with the subject filled in: the prompt of a phrasing. */
export function promptOf(phrasing: string, subject: string): string | null {
  const s = phrasing.indexOf("{s}"), o = phrasing.indexOf("{o}");
  if (s < 0 || o < 0 || s > o) return null;
  return phrasing.slice(0, o).replace("{s}", subject).trimEnd();
}

/** The phrasing as a sentence about `subject` with answer `answer`. */
export function render(phrasing: string, subject: string, answer: string): string {
  return phrasing.replace("{s}", subject).replace("{o}", answer);
}
