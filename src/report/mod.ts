// SVG charts for reports: one import for callers.

export * from "./heatmap.ts";
export * from "./bars.ts";
export * from "./colors.ts";
export * from "./svg.ts";
