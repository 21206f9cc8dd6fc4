// Module declarations for the embed bundle's non-TypeScript imports (resolved by widgets/scripts/build-embed.mjs).

/** A stylesheet: the build turns its import into a <style> element injected at load (fonts and images as data: URIs). */
declare module "*.css";

