// The evaluation metrics (KnowEdit style): one import for callers.

export * from "./model.ts";
export * from "../random/rng.ts";
export * from "./accuracy.ts";
export * from "./fluency.ts";
export * from "./record.ts";
export * from "./aggregate.ts";
export * from "./words.ts";
