/// <reference types="vitest/config" />
import { defineConfig } from "vite";

// No React plugin: Vite 8 compiles TSX with Oxc, and the automatic JSX runtime is all we need
// (Fast Refresh is a dev nicety not worth another dependency).
export default defineConfig({
  oxc: {
    jsx: { runtime: "automatic" },
  },
  // `npm run dev`: the page on :5173, the API proxied to a local backend (same origin for the page).
  server: {
    proxy: { "/api": process.env.CHAT_API_URL ?? "http://localhost:7071" },
  },
  build: {
    outDir: "dist",
    sourcemap: true,
    // Keep everything in external files: the CSP allows scripts and styles from 'self' only.
    assetsInlineLimit: 0,
  },
  test: {
    include: ["src/**/*.test.ts", "src/**/*.test.tsx", "scripts/**/*.test.mjs"],
    environment: "node",
    // No page test asserts a duration: the timeout only ends a test that hangs. Vitest's default (5 s) is a
    // wall-clock bound that a loaded CI machine (2 cores shared with builds) exceeds for tests that do real work.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Vitest's default is one worker fewer than the cores: one worker on the 2-core CI machine, which leaves a core idle
    // while the main process mostly waits. No page test measures time, so two files may share the cores.
    maxWorkers: 2,
  },
});
