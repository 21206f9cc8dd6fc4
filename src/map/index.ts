// safesail/map: the StarMap feature map (explanations -> embedding -> UMAP 2-D -> clusters), its MAP.json file
// and its quality measure (neighbour agreement of domain tags against shuffled coordinates).
export * from "./text.ts";
export * from "./svd.ts";
export * from "./knn.ts";
export * from "./embed.ts";
export * from "./cluster.ts";
export * from "./quality.ts";
export * from "./format.ts";
export * from "./source.ts";
export * from "./build.ts";
